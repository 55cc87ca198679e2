package fire

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// trickle opens an upload from the loopback address ip whose key would
// follow the file, sends everything up to the file's first byte, and then
// one byte every half second until the server answers or ctx ends. It
// returns at once; the channel gets how long the connection lasted and the
// status line the server answered with ("" if none).
func trickle(ctx context.Context, base, ip string) (<-chan string, error) {
	u, _ := url.Parse(base)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	head, ct := multipartBody([][2]string{{"employee_id", "1"}}, fileHeader("image/png"), strings.NewReader(""))
	prefix, _ := io.ReadAll(head)
	// Cut the closing boundary: the file part stays open.
	prefix = prefix[:bytes.LastIndex(prefix, []byte("\r\n--"))]
	req := fmt.Sprintf("POST %s/v2/employee/avatar/upload HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, ct, len(prefix)+1<<20)
	if _, err := conn.Write(append([]byte(req), prefix...)); err != nil {
		conn.Close()
		return nil, err
	}
	out := make(chan string, 1)
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		answered <- strings.TrimSpace(line)
	}()
	go func() {
		defer conn.Close()
		start := time.Now()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case line := <-answered:
				out <- fmt.Sprintf("%s after %v", line, time.Since(start).Round(100*time.Millisecond))
				return
			case <-ctx.Done():
				out <- "still open at the end"
				return
			case <-tick.C:
				conn.Write([]byte{0})
			}
		}
	}()
	return out, nil
}

// keyAfterFile is an upload whose hash part follows its file part, as a
// form in page order sends it.
func keyAfterFile(api, hash string, id int64, png []byte) *http.Request {
	body, ct := multipartBody([][2]string{{"employee_id", fmt.Sprint(id)}}, fileHeader("image/png"), bytes.NewReader(png))
	b, _ := io.ReadAll(body)
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
	b = append(bytes.TrimSuffix(b, []byte("--"+boundary+"--\r\n")),
		[]byte("--"+boundary+"\r\nContent-Disposition: form-data; name=\"hash\"\r\n\r\n"+hash+"\r\n--"+boundary+"--\r\n")...)
	return newReq(http.MethodPost, api+"/employee/avatar/upload", ct, bytes.NewReader(b), int64(len(b)))
}

// TestTricklingUploads: strangers who open uploads without a key and
// trickle their file cannot keep a legitimate upload whose key follows its
// file waiting, and are cut themselves.
func TestTricklingUploads(t *testing.T) {
	ctx := t.Context()
	st := sqliteStack(t)
	p := serve(t, st)
	c := newClient(p.API)
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	id := int64(c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}}).body["id"].(float64))
	png := corpus(t, "alpha.png")

	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var tricklers []<-chan string
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		ch, err := trickle(tctx, p.Base, ip)
		if err != nil {
			t.Fatal(err)
		}
		tricklers = append(tricklers, ch)
	}
	time.Sleep(200 * time.Millisecond) // they hold their slots now

	for _, from := range []struct {
		ip     string
		within time.Duration
	}{
		{"127.0.0.1", 3 * time.Second},  // another address: never waits for them
		{"127.0.0.2", 10 * time.Second}, // a trickler's own address: until it is cut
	} {
		cl := clientAt(p.API, from.ip)
		start := time.Now()
		r, err := cl.do(keyAfterFile(p.API, c.hash, id, png))
		took := time.Since(start)
		if err != nil || r.code() != 0 {
			t.Errorf("upload with the key after the file from %s = %v %v, want success", from.ip, r, err)
		}
		if took > from.within {
			t.Errorf("upload with the key after the file from %s took %v beside two tricklers, want under %v", from.ip, took, from.within)
		}
		t.Logf("key-after-file upload from %s beside two tricklers: %v", from.ip, took.Round(time.Millisecond))
	}
	for i, ch := range tricklers {
		got := <-ch
		if !strings.HasPrefix(got, "HTTP/1.1 400") {
			t.Errorf("trickler %d: %s, want cut with 400", i, got)
		}
		t.Logf("trickler %d: %s", i, got)
	}
}
