package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFiles serves the certificate in a pair of PEM files and picks up a
// replaced pair without a restart: on reload (SIGHUP), and at a handshake
// when either file's modification time has changed since the last look
// (at most once a second). A pair that does not load — the certificate
// written and the key not yet — keeps the previous one in service and is
// tried again at the next look.
type certFiles struct {
	certPath, keyPath string
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

// checkEvery is how often a handshake looks at the files.
const checkEvery = time.Second

func newCertFiles(certPath, keyPath string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certPath: certPath, keyPath: keyPath, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads the pair; it must be called with mu held or before use.
func (c *certFiles) load() error {
	certMod, keyMod := modTime(c.certPath), modTime(c.keyPath)
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %w", c.certPath, c.keyPath, err)
	}
	c.cert, c.certMod, c.keyMod = &cert, certMod, keyMod
	return nil
}

// reload loads the pair again, keeping the old one if the new does not load.
func (c *certFiles) reload(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reloadLocked(why)
}

func (c *certFiles) reloadLocked(why string) {
	if err := c.load(); err != nil {
		c.log.Warn("TLS certificate not reloaded; the previous one is still served", "why", why, "error", err)
		return
	}
	c.log.Info("TLS certificate loaded", "why", why, "cert", c.certPath)
}

func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.lastCheck) >= checkEvery {
		c.lastCheck = now
		if !modTime(c.certPath).Equal(c.certMod) || !modTime(c.keyPath).Equal(c.keyMod) {
			c.reloadLocked("the files changed")
		}
	}
	return c.cert, nil
}

func modTime(path string) time.Time {
	info, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}

// tlsConfig serves c's certificate over TLS 1.2 and later; net/http adds
// HTTP/2 to it.
func (c *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}
