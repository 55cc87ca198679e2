//go:build unix

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCA is a certificate authority the test makes, and the client trusts.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "roster test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate for 127.0.0.1 with the given serial number,
// and its key, to certPath and keyPath, each by a rename so that a reader
// never sees half a file.
func (ca *testCA) issue(t *testing.T, serial int64, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, kind string, b []byte) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(keyPath, "PRIVATE KEY", pkcs8)
	write(certPath, "CERTIFICATE", der)
}

// servedSerial connects anew and returns the serial number of the
// server's certificate and the protocol of an API call.
func servedSerial(t *testing.T, pool *x509.CertPool, s *server) (int64, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Post(s.api+"/user/auth", "application/json", strings.NewReader(`{"login":"admin","password":"tls-admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("user/auth over HTTPS = %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.Proto
}

// TestTLS: --tls-cert and --tls-key serve the API over HTTPS and HTTP/2
// with a certificate the test makes; a certificate replaced on disk is
// served without a restart, and so is one replaced under its old
// modification time once the server gets SIGHUP.
func TestTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, 100, certPath, keyPath)
	s := startServer(t, []string{"--data", t.TempDir(), "--tls-cert", certPath, "--tls-key", keyPath},
		map[string]string{"ROSTER_ADMIN_PASSWORD": "tls-admin-password"})
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("start-up line names %s, want an https:// URL", s.base)
	}
	serial, proto := servedSerial(t, ca.pool, s)
	if serial != 100 || proto != "HTTP/2.0" {
		t.Errorf("served certificate %d over %s, want 100 over HTTP/2.0", serial, proto)
	}

	// Replaced on disk: picked up at a handshake after the next look.
	ca.issue(t, 101, certPath, keyPath)
	deadline := time.Now().Add(10 * time.Second)
	for serial, _ = servedSerial(t, ca.pool, s); serial != 101 && time.Now().Before(deadline); serial, _ = servedSerial(t, ca.pool, s) {
		time.Sleep(200 * time.Millisecond)
	}
	if serial != 101 {
		t.Errorf("after replacing the files, the server serves certificate %d, want 101", serial)
	}

	// Replaced with the old modification times, as cp -p would: only
	// SIGHUP tells the server.
	certInfo, _ := os.Stat(certPath)
	keyInfo, _ := os.Stat(keyPath)
	ca.issue(t, 102, certPath, keyPath)
	os.Chtimes(certPath, certInfo.ModTime(), certInfo.ModTime())
	os.Chtimes(keyPath, keyInfo.ModTime(), keyInfo.ModTime())
	time.Sleep(1500 * time.Millisecond) // a look that finds nothing changed
	if serial, _ := servedSerial(t, ca.pool, s); serial != 101 {
		t.Fatalf("served certificate %d before SIGHUP, want still 101", serial)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for serial, _ = servedSerial(t, ca.pool, s); serial != 102 && time.Now().Before(deadline); serial, _ = servedSerial(t, ca.pool, s) {
		time.Sleep(100 * time.Millisecond)
	}
	if serial != 102 {
		t.Errorf("after SIGHUP, the server serves certificate %d, want 102", serial)
	}

	// A half-replaced pair keeps the previous certificate in service.
	if err := os.WriteFile(keyPath, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if serial, _ := servedSerial(t, ca.pool, s); serial != 102 {
		t.Errorf("with a broken key file, the server serves certificate %d, want still 102", serial)
	}
	if !strings.Contains(s.stderr.String(), "TLS certificate not reloaded") {
		t.Errorf("the log does not say the broken pair was not loaded:\n%s", s.stderr)
	}
}
