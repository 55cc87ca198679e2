package s3

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"roster/internal/filestest"
	"roster/internal/roster"
)

// testOptions are the test server's credentials, from the environment.
func testOptions() Options { return Options{Credentials: CredentialsFrom(os.Getenv)} }

func open(t *testing.T, rawURL string) *Store {
	t.Helper()
	s, err := Open(t.Context(), rawURL, testOptions())
	if err != nil {
		t.Fatalf("Open(%q) = %v, want nil", rawURL, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	filestest.S3URL(t) // skip here once, not in every subtest
	filestest.Run(t, func(t *testing.T) roster.Files { return open(t, filestest.S3URL(t)) })
}

// TestConformancePrefix runs the suite on two stores sharing a bucket, one
// at its root and one under a prefix, so each must ignore the other.
func TestConformancePrefix(t *testing.T) {
	filestest.S3URL(t) // skip here once, not in every subtest
	filestest.Run(t, func(t *testing.T) roster.Files {
		bucketURL := filestest.S3URL(t)
		i := strings.Index(bucketURL, "?")
		neighbour := open(t, bucketURL)
		defer neighbour.Close()
		if err := neighbour.Put(t.Context(), "neighbour.png", []byte("not yours")); err != nil {
			t.Fatalf("Put(%q) at the bucket's root = %v, want nil", "neighbour.png", err)
		}
		return open(t, bucketURL[:i]+"/avatars/v1"+bucketURL[i:])
	})
}

// TestOpenMissingBucket: a missing bucket is refused with an error that
// says how to make it, and made only when asked.
func TestOpenMissingBucket(t *testing.T) {
	missing, bucket := filestest.MissingS3URL(t)
	s, err := Open(t.Context(), missing, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) = nil, want an error", missing)
	}
	for _, want := range []string{"aws s3 mb s3://" + bucket + " --endpoint-url " + os.Getenv("ROSTER_TEST_S3"), "--create-bucket"} {
		if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want ErrNoBucket saying %q", missing, err, want)
		}
	}
	o := testOptions()
	o.CreateBucket = true
	s, err = Open(t.Context(), missing, o)
	if err != nil {
		t.Fatalf("Open(%q) with CreateBucket = %v, want nil", missing, err)
	}
	s.Close()
	// Once made, the bucket opens without the option.
	s, err = Open(t.Context(), missing, testOptions())
	if err != nil {
		t.Fatalf("Open(%q) of the made bucket = %v", missing, err)
	}
	s.Close()
}

func TestOpenWrongSecret(t *testing.T) {
	bucketURL := filestest.S3URL(t)
	o := testOptions()
	o.Credentials.SecretAccessKey = "wrong"
	if s, err := Open(t.Context(), bucketURL, o); err == nil {
		s.Close()
		t.Errorf("Open(%q) with a wrong secret = nil, want an error", bucketURL)
	}
}

func TestGetAfterReplace(t *testing.T) {
	s := open(t, filestest.S3URL(t))
	defer s.Close()
	ctx := t.Context()
	if err := s.Put(ctx, "a.png", []byte("first version")); err != nil {
		t.Fatal(err)
	}
	o, err := s.Get(ctx, "a.png")
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", "a.png", err)
	}
	defer o.Close()
	if err := s.Put(ctx, "a.png", []byte("second version, longer")); err != nil {
		t.Fatal(err)
	}
	// The stream opened by Get still holds the first version.
	got, err := io.ReadAll(o)
	if string(got) != "first version" || err != nil {
		t.Errorf("ReadAll(object opened before a replace) = %q, %v, want %q, nil", got, err, "first version")
	}
	// A new request for the old version must fail, not mix versions.
	if _, err := o.Seek(6, io.SeekStart); err != nil {
		t.Fatalf("Seek(6) = %v, want nil", err)
	}
	if got, err := io.ReadAll(o); err == nil && string(got) != "version" {
		t.Errorf("ReadAll after Seek(6) past a replace = %q, nil, want %q or an error", got, "version")
	}
}

// down returns endpoints where no S3 server answers: one refuses
// connections, one accepts them and never replies.
func down(t *testing.T) map[string]string {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return map[string]string{
		"Refused": "http://" + refused.Addr().String(),
		"Silent":  "http://" + silent.Addr().String(),
	}
}

func TestEndpointDown(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "rostertest")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rostertest-secret")
	const timeout = 500 * time.Millisecond
	for name, endpoint := range down(t) {
		t.Run(name, func(t *testing.T) {
			rawURL := "s3://bucket?region=us-east-1&endpoint=" + endpoint
			cfg, err := parseURL(rawURL)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newStore(cfg, CredentialsFrom(os.Getenv))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			ops := []struct {
				name string
				op   func(ctx context.Context) error
			}{
				{"Open", func(ctx context.Context) error {
					s, err := Open(ctx, rawURL, testOptions())
					if err == nil {
						s.Close()
					}
					return err
				}},
				{"Put", func(ctx context.Context) error { return s.Put(ctx, "a.png", []byte("x")) }},
				{"Get", func(ctx context.Context) error {
					o, err := s.Get(ctx, "a.png")
					if err == nil {
						o.Close()
					}
					return err
				}},
				{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "a.png") }},
				{"List", func(ctx context.Context) error {
					return s.List(ctx, func(string, time.Time) error { return nil })
				}},
				{"Ping", s.Ping},
			}
			for _, op := range ops {
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				start := time.Now()
				err := op.op(ctx)
				took := time.Since(start)
				cancel()
				if err == nil {
					t.Errorf("%s with the server down = nil, want an error", op.name)
				}
				if errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s with the server down = %v, want no fs.ErrNotExist: nothing was said missing", op.name, err)
				}
				if took > timeout+2*time.Second {
					t.Errorf("%s with the server down took %v, want about the %v of its context", op.name, took, timeout)
				}
			}
		})
	}
}
