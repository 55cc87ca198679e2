package s3

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want config
	}{
		{"AWS", "s3://avatars", config{bucket: "avatars", endpoint: awsEndpoint, secure: true}},
		{"AWSRegion", "s3://avatars?region=eu-west-1",
			config{bucket: "avatars", endpoint: awsEndpoint, secure: true, region: "eu-west-1"}},
		{"Endpoint", "s3://avatars?endpoint=http://127.0.0.1:7070&region=us-east-1",
			config{bucket: "avatars", endpoint: "127.0.0.1:7070", path: true, region: "us-east-1"}},
		{"EndpointTLS", "s3://avatars?endpoint=https%3A%2F%2Fs3.example.com%2F",
			config{bucket: "avatars", endpoint: "s3.example.com", secure: true, path: true}},
		{"Prefix", "s3://avatars/roster", config{bucket: "avatars", prefix: "roster/", endpoint: awsEndpoint, secure: true}},
		{"DeepPrefix", "s3://avatars/a/b/", config{bucket: "avatars", prefix: "a/b/", endpoint: awsEndpoint, secure: true}},
		{"RootPath", "s3://avatars/", config{bucket: "avatars", endpoint: awsEndpoint, secure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseURL(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseURL(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // in the error message
	}{
		{"Empty", "", "want s3://"},
		{"WrongScheme", "file:/data/files", "want s3://"},
		{"HTTP", "http://avatars", "want s3://"},
		{"Opaque", "s3:avatars", "no bucket"},
		{"NoBucket", "s3:///prefix", "no bucket"},
		{"BadBucket", "s3://Bad_Bucket", `bucket "Bad_Bucket"`},
		{"Port", "s3://avatars:7070", "bucket"},
		{"Credentials", "s3://key:secret@avatars", "credentials"},
		{"UnknownParam", "s3://avatars?regoin=us-east-1", `unknown parameter "regoin"`},
		{"Twice", "s3://avatars?region=a&region=b", "region given 2 times"},
		{"EndpointNoScheme", "s3://avatars?endpoint=127.0.0.1:7070", "endpoint"},
		{"EndpointFTP", "s3://avatars?endpoint=ftp://host", "endpoint"},
		{"EndpointPath", "s3://avatars?endpoint=http://host/bucket", "endpoint"},
		{"EndpointEmpty", "s3://avatars?endpoint=", "endpoint"},
		{"Fragment", "s3://avatars#x", "#x"},
		{"Unparsable", "s3://avatars/%zz", "bad store URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseURL(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseURL(%q) = %+v, %v, want an error saying %q", tt.in, got, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("parseURL(%q) error %q shows the secret", tt.in, err)
			}
		})
	}
}
