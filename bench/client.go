package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// client calls a running Roster's API.
type client struct {
	base string // http://127.0.0.1:PORT/v2
	hash string
	http *http.Client
}

func newClient(serverURL string) *client {
	return &client{base: serverURL + "/v2", http: &http.Client{Timeout: 2 * time.Minute}}
}

// call makes a GET call with the hash and params in the query and returns
// the raw answer, failing on anything but success.
func (c *client) call(name string, params url.Values) ([]byte, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	if c.hash != "" {
		q.Set("hash", c.hash)
	}
	resp, err := c.http.Get(c.base + "/" + name + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	return answer(name, resp)
}

// post makes a POST call with a JSON body.
func (c *client) post(name string, body []byte) ([]byte, error) {
	resp, err := c.http.Post(c.base+"/"+name, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return answer(name, resp)
}

func answer(name string, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var env struct {
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(b, &env); err != nil || !env.Success || resp.StatusCode != 200 {
		return b, fmt.Errorf("%s: HTTP %d: %.300s", name, resp.StatusCode, b)
	}
	return b, nil
}

func (c *client) signIn() error {
	b, err := c.call("user/auth", url.Values{"login": {"admin"}, "password": {adminPassword}})
	if err != nil {
		return err
	}
	var v struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.hash = v.Hash
	return nil
}

// createEmployees creates n employees and returns their ids.
func (c *client) createEmployees(n int) ([]int64, error) {
	// Employees carry only their account's tags: two of them.
	var tags []int64
	for _, name := range []string{"Day", "Night"} {
		body, _ := json.Marshal(map[string]any{"hash": c.hash, "tag": map[string]any{"name": name, "color": "808080"}})
		b, err := c.post("tag/create", body)
		if err != nil {
			return nil, err
		}
		var v struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.ID == 0 {
			return nil, fmt.Errorf("tag/create: %s", b)
		}
		tags = append(tags, v.ID)
	}
	var ids []int64
	for i := range n {
		e := map[string]any{"first_name": fmt.Sprintf("Emp%03d", i), "last_name": "Lee",
			"email": fmt.Sprintf("emp%03d@example.com", i), "phone": fmt.Sprintf("4915112%06d", i),
			"personnel_number": fmt.Sprintf("P%05d", i), "driver_license_valid_till": "2030-01-31",
			"location": map[string]any{"lat": 48.1, "lng": 11.5, "address": "Somewhere street 1"},
			"tags":     tags}
		body, _ := json.Marshal(map[string]any{"hash": c.hash, "employee": e})
		b, err := c.post("employee/create", body)
		if err != nil {
			return nil, err
		}
		var v struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		ids = append(ids, v.ID)
	}
	return ids, nil
}

// upload sends an avatar and returns its stored name.
func (c *client) upload(employee int64, fileName, mimeType string, data []byte) (string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("hash", c.hash)
	mw.WriteField("employee_id", fmt.Sprint(employee))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", mimeType)
	w, err := mw.CreatePart(h)
	if err != nil {
		return "", err
	}
	w.Write(data)
	mw.Close()
	resp, err := c.http.Post(c.base+"/employee/avatar/upload", mw.FormDataContentType(), &body)
	if err != nil {
		return "", err
	}
	b, err := answer("employee/avatar/upload", resp)
	if err != nil {
		return "", err
	}
	var v struct {
		Value string `json:"value"`
	}
	return v.Value, json.Unmarshal(b, &v)
}

// get fetches a URL and returns its body, failing on anything but 200.
func get(url string) ([]byte, http.Header, error) { return getWith(url) }

// getWith is get with request headers, each "Name: value".
func getWith(url string, header ...string) ([]byte, http.Header, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return b, resp.Header, err
}

// startSignedIn starts a Roster server on a fresh data directory under the
// work directory, signs in as its admin and creates n employees.
func startSignedIn(ctx context.Context, cfg *config, name, dir string, n int) (*server, *client, []int64, error) {
	rs, err := startRoster(ctx, cfg, name, filepath.Join(cfg.work, dir), "")
	if err != nil {
		return nil, nil, nil, err
	}
	c := newClient(rs.url)
	if err := c.signIn(); err != nil {
		rs.stop()
		return nil, nil, nil, err
	}
	ids, err := c.createEmployees(n)
	if err != nil {
		rs.stop()
		return nil, nil, nil, err
	}
	return rs, c, ids, nil
}
