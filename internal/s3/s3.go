// Package s3 keeps Roster's files in a bucket of S3-compatible object
// storage (AWS S3, MinIO, Versity Gateway, ...), as a roster.Files.
//
// An object is stored under the key <prefix><name>. S3 replaces an object
// atomically on PUT, so the store needs no temporary names.
//
// Every call is bounded by its context, and by little else: minio retries
// a refused connection for seconds and waits a minute for a silent server,
// so callers such as a readiness check should pass a deadline.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"roster/internal/roster"
)

// Store is a roster.Files in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	prefix    string
}

var _ roster.Files = (*Store)(nil)

// Options are what Open needs beside the URL.
type Options struct {
	// Credentials sign the requests; empty ones send anonymous requests.
	Credentials Credentials
	// CreateBucket makes the bucket if it does not exist. Off by default:
	// a typo in the bucket's name must not quietly start a new, empty store.
	CreateBucket bool
}

// Credentials are an S3 access key.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// CredentialsFrom reads the AWS environment variables (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) through getenv.
func CredentialsFrom(getenv func(string) string) Credentials {
	return Credentials{
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
	}
}

// ErrNoBucket is the error of a bucket that does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// Open opens the store that rawURL names:
//
//	s3://<bucket>[/<prefix>][?endpoint=<http(s)://host:port>][&region=<region>]
//
// Without an endpoint it talks to AWS; with one it addresses buckets by
// path, as self-hosted servers expect, over TLS when the endpoint's scheme
// is https. Credentials come from o, never from the URL. Open checks that
// the bucket exists (or makes it, if o says so), so a wrong bucket,
// endpoint or key fails at start-up rather than at the first upload.
func Open(ctx context.Context, rawURL string, o Options) (*Store, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := newStore(cfg, o.Credentials)
	if err != nil {
		return nil, err
	}
	err = s.Ping(ctx)
	if errors.Is(err, ErrNoBucket) && o.CreateBucket {
		err = s.client.MakeBucket(ctx, cfg.bucket, minio.MakeBucketOptions{Region: cfg.region})
		if err != nil {
			err = fmt.Errorf("s3: making bucket %q: %w", cfg.bucket, err)
		}
	} else if errors.Is(err, ErrNoBucket) {
		scheme := "https"
		if !cfg.secure {
			scheme = "http"
		}
		err = fmt.Errorf("%w; create it with your storage's tools (such as: aws s3 mb s3://%s --endpoint-url %s://%s), or let roster make it once with --create-bucket",
			err, cfg.bucket, scheme, cfg.endpoint)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// config is what a store URL says.
type config struct {
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // host[:port]
	secure   bool
	path     bool // path-style bucket addressing
	region   string
}

// awsEndpoint is where a URL without an endpoint goes.
const awsEndpoint = "s3.amazonaws.com"

func parseURL(rawURL string) (config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return config{}, fmt.Errorf("s3: bad store URL: %w", err)
	}
	bad := func(format string, args ...any) (config, error) {
		return config{}, fmt.Errorf("s3: bad store URL %q: %s", u.Redacted(), fmt.Sprintf(format, args...))
	}
	if u.Scheme != "s3" {
		return bad("want s3://<bucket>[/<prefix>]?endpoint=<url>&region=<region>")
	}
	if u.User != nil {
		return bad("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Host == "" {
		return bad("no bucket")
	}
	if err := s3utils.CheckValidBucketNameStrict(u.Host); err != nil {
		return bad("bucket %q: %v", u.Host, err)
	}
	if u.Fragment != "" {
		return bad("unexpected #%s", u.Fragment)
	}
	cfg := config{bucket: u.Host, endpoint: awsEndpoint, secure: true}
	if p := strings.Trim(u.Path, "/"); p != "" {
		cfg.prefix = p + "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("%v", err)
	}
	for key, values := range q {
		if len(values) != 1 {
			return bad("%s given %d times", key, len(values))
		}
		switch key {
		case "region":
			cfg.region = values[0]
		case "endpoint":
			e, err := url.Parse(values[0])
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" ||
				strings.Trim(e.Path, "/") != "" || e.RawQuery != "" || e.User != nil {
				return bad("endpoint %q: want http://host:port or https://host:port", values[0])
			}
			cfg.endpoint, cfg.secure, cfg.path = e.Host, e.Scheme == "https", true
		default:
			return bad("unknown parameter %q; known are endpoint and region", key)
		}
	}
	return cfg, nil
}

// newStore makes the client without touching the network.
func newStore(cfg config, c Credentials) (*Store, error) {
	transport, err := minio.DefaultTransport(cfg.secure)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	lookup := minio.BucketLookupAuto
	if cfg.path {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.endpoint, &minio.Options{
		// Only the given key: a chain reaching for instance metadata
		// would make requests to a metadata service on every host.
		Creds:        credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Secure:       cfg.secure,
		Transport:    transport,
		Region:       cfg.region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return &Store{client: client, transport: transport, bucket: cfg.bucket, prefix: cfg.prefix}, nil
}

// Put uploads data in one request, which S3 applies atomically.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, name); err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	return nil
}

// Get opens the object. Reads go to the server with ctx, so the Object is
// usable only while ctx is. Reading from the start never mixes versions of
// an object replaced meanwhile; reading after a Seek asks for the version
// first opened (If-Match) and fails if it has been replaced.
func (s *Store) Get(ctx context.Context, name string) (roster.Object, error) {
	if err := check(ctx, name); err != nil {
		return nil, fmt.Errorf("s3: get %q: %w", name, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, notExist("get", name, err)
	}
	// GetObject sends nothing: minio asks the server at the first Read or
	// Stat. An empty Read sends the GET now, so a missing object is
	// reported here, and size, time and body all come from that one
	// response (a Stat first would be a HEAD, and the object could change
	// between the two).
	if _, err := obj.Read(nil); err != nil && err != io.EOF {
		obj.Close()
		return nil, notExist("get", name, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, notExist("get", name, err)
	}
	return &object{obj: obj, size: info.Size, modTime: info.LastModified}, nil
}

// object is an open minio object with the size and time it had when
// opened. It seeks lazily: minio starts a new ranged GET after any Seek,
// even one that comes back to where the stream is, and http.ServeContent
// seeks to the end and back before it reads.
type object struct {
	obj     *minio.Object
	size    int64
	modTime time.Time
	pos     int64 // where the next Read reads
	at      int64 // where obj's stream is
}

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.modTime }
func (o *object) Close() error       { return o.obj.Close() }

func (o *object) Read(p []byte) (int, error) {
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if o.pos != o.at {
		if _, err := o.obj.Seek(o.pos, io.SeekStart); err != nil {
			return 0, err
		}
		o.at = o.pos
	}
	n, err := o.obj.Read(p)
	o.pos += int64(n)
	o.at += int64(n)
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.pos
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("s3: seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("s3: seek: negative position %d", offset)
	}
	o.pos = offset
	return offset, nil
}

// Delete removes the object.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return fmt.Errorf("s3: delete %q: %w", name, err)
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("s3: delete %q: %w", name, err)
	}
	return nil
}

// List lists the keys right under the prefix. Keys deeper down or not
// named like objects are not this store's, and are skipped.
func (s *Store) List(ctx context.Context, fn func(name string, modTime time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list: %w", err)
	}
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if obj.Err != nil {
			return fmt.Errorf("s3: list: %w", obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, s.prefix)
		if !roster.ValidFileName(name) {
			continue
		}
		if err := fn(name, obj.LastModified); err != nil {
			return err
		}
	}
	// A listing cut short by ctx may end without an error of its own.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list: %w", err)
	}
	return nil
}

// Ping checks that the bucket exists and the credentials may see it.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: ping: %w", err)
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3: ping bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3: bucket %q: %w", s.bucket, ErrNoBucket)
	}
	return nil
}

// Close drops the idle connections to the server.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// notExist wraps err, adding fs.ErrNotExist when S3 says there is no such
// key (a missing bucket is a broken store, not a missing object).
func notExist(op, name string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("s3: %s %q: %w: %w", op, name, fs.ErrNotExist, err)
	}
	return fmt.Errorf("s3: %s %q: %w", op, name, err)
}

// check refuses a done context or a name that is no object name.
func check(ctx context.Context, name string) error {
	if !roster.ValidFileName(name) {
		return roster.ErrInvalidName
	}
	return ctx.Err()
}
