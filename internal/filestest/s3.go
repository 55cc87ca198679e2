package filestest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3URL returns the URL of a new, empty bucket on the S3 server named by
// ROSTER_TEST_S3 (such as http://127.0.0.1:7070), in the form the s3
// package opens, and removes the bucket when the test ends. Each test gets
// its own bucket, so tests run in parallel and leave nothing behind.
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the
// region from AWS_REGION (default us-east-1). Without ROSTER_TEST_S3 the
// test is skipped.
func S3URL(t *testing.T) string {
	t.Helper()
	client, endpoint, region := s3Client(t)
	bucket := "roster-test-" + strings.ToLower(rand.Text())
	if err := client.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatalf("making bucket %s on %s: %v", bucket, endpoint, err)
	}
	t.Cleanup(func() { removeBucket(t, client, bucket) })
	return bucketURL(bucket, endpoint, region)
}

// MissingS3URL is S3URL of a bucket that does not exist, for tests of
// what makes one; the bucket is removed when the test ends if it exists
// by then. It returns the bucket's name too.
func MissingS3URL(t *testing.T) (rawURL, bucket string) {
	t.Helper()
	client, endpoint, region := s3Client(t)
	bucket = "roster-made-" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if ok, err := client.BucketExists(ctx, bucket); err != nil || ok {
			removeBucket(t, client, bucket)
		}
	})
	return bucketURL(bucket, endpoint, region), bucket
}

func s3Client(t *testing.T) (client *minio.Client, endpoint, region string) {
	t.Helper()
	endpoint = os.Getenv("ROSTER_TEST_S3")
	if endpoint == "" {
		t.Skip(`S3 tests need a server: run eval "$(.ci/s3-server start)" to start one and set ROSTER_TEST_S3`)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("ROSTER_TEST_S3 = %q, want an http(s)://host:port URL", endpoint)
	}
	region = os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	client, err = minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewEnvAWS(),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatalf("S3 client for %s: %v", endpoint, err)
	}
	return client, endpoint, region
}

// removeBucket empties the bucket and removes it.
func removeBucket(t *testing.T, client *minio.Client, bucket string) {
	// The test's context is canceled by now.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Errorf("emptying bucket %s: %v", bucket, obj.Err)
			return
		}
		if err := client.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Errorf("emptying bucket %s: %v", bucket, err)
			return
		}
	}
	if err := client.RemoveBucket(ctx, bucket); err != nil {
		t.Errorf("removing bucket %s: %v", bucket, err)
	}
}

func bucketURL(bucket, endpoint, region string) string {
	q := url.Values{"endpoint": {endpoint}, "region": {region}}
	return (&url.URL{Scheme: "s3", Host: bucket, RawQuery: q.Encode()}).String()
}
