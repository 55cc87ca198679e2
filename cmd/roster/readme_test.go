package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"roster/internal/sqlstore/sqltest"
)

// shBlock is one ```sh block of the README and the line it starts on.
type shBlock struct {
	line int
	text string
}

// readmeBlocks are the README's ```sh blocks, in order; other fences
// (```console for what must not run) are passed over.
func readmeBlocks(readme []byte) []shBlock {
	var blocks []shBlock
	var cur *shBlock
	var fence string
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && fence == "" && strings.HasPrefix(line, "```"):
			fence = "```"
			if strings.TrimSpace(strings.TrimPrefix(line, "```")) == "sh" {
				cur = &shBlock{line: n}
			}
		case fence != "" && strings.TrimSpace(line) == "```":
			if cur != nil {
				blocks = append(blocks, *cur)
			}
			cur, fence = nil, ""
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return blocks
}

var blockMarker = regexp.MustCompile(`(?m)^@@README-BLOCK (\d+)$`)

// TestREADME runs the README as written, by the convention its first lines
// state: every ```sh block, in order, in one bash with -euo pipefail, in a
// fresh copy of the repository (its files as git sees them, none of their
// build products), with PORT, PORT2 and PORT3 free ports and PG an empty
// PostgreSQL database. A failure names the block, its line and its output.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("the README walkthrough builds the binary and starts servers")
	}
	pg := sqltest.PostgresURL(t)
	if os.Getenv("ROSTER_TEST_S3") == "" {
		t.Skip(`the README walkthrough starts a local S3 server with .ci/s3-server, built by .ci/run: run eval "$(.ci/s3-server start)" first and set ROSTER_TEST_S3`)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(readme)
	if len(blocks) < 5 {
		t.Fatalf("the README has %d sh blocks; the walkthrough is missing", len(blocks))
	}
	clone := filepath.Join(t.TempDir(), "roster")
	copyRepo(t, root, clone)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("block%d.sh", i))
		if err := os.WriteFile(path, []byte(b.text), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "printf '\\n@@README-BLOCK %d\\n'\nsource %q\n", i, path)
	}
	script.WriteString("printf '\\n@@README-BLOCK done\\n'\n")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = clone
	// Its own process group: whatever the blocks leave running ends with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "PG="+pg, "PORT="+freePort(t), "PORT2="+freePort(t), "PORT3="+freePort(t), "ROSTER_ADMIN_PASSWORD=")
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err == nil {
		t.Logf("README walkthrough: %d blocks ran", len(blocks))
		if testing.Verbose() {
			t.Logf("its output:\n%s", out)
		}
		return
	}
	marks := blockMarker.FindAllSubmatchIndex(out, -1)
	if len(marks) == 0 {
		t.Fatalf("the walkthrough failed before its first block: %v\n%s", err, out)
	}
	last := marks[len(marks)-1]
	i, _ := strconv.Atoi(string(out[last[2]:last[3]]))
	t.Fatalf("README block %d (README.md line %d) failed: %v\n--- block:\n%s--- its output:\n%s", i, blocks[i].line, err, blocks[i].text, out[last[1]:])
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// copyRepo copies the repository's files as a fresh clone of the working
// tree would hold them: tracked and untracked, without what .gitignore
// leaves out.
func copyRepo(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("git", "-C", from, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("the README walkthrough copies the repository with git: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(from, name)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(to, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadmeBlocks: the extraction takes ```sh blocks only, in order, with
// their lines, and leaves ```console blocks and their contents out.
func TestReadmeBlocks(t *testing.T) {
	md := "# T\n```sh\necho one\n```\ntext\n```console\nroster serve\n```\n```sh\necho two\necho three\n```\n```\nplain\n```\n"
	got := readmeBlocks([]byte(md))
	if len(got) != 2 || got[0] != (shBlock{2, "echo one\n"}) || got[1] != (shBlock{9, "echo two\necho three\n"}) {
		t.Errorf("readmeBlocks = %+v", got)
	}
}
