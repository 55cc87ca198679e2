package testsum

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// goTestJSON runs the real go test -json on the sample module in testdata:
// a package with passing, failing, skipped tests and subtests, one that does
// not build, and one without tests.
func goTestJSON(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = "testdata/sample"
	cmd.Env = append(cmd.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return out
}

func TestSummarise(t *testing.T) {
	raw := goTestJSON(t)
	var out bytes.Buffer
	c, err := Summarise(bytes.NewReader(raw), &out)
	if err != nil {
		t.Fatal(err)
	}
	// good: TestPasses, TestSub, TestSub/a pass; TestFails fails; TestSkips
	// and TestSub/b skip.
	if c.Passed != 3 || c.Failed != 1 || c.Skipped != 2 || c.OK() {
		t.Errorf("Summarise = %+v, want 3 passed, 1 failed, 2 skipped, not OK\n%s", c, out.String())
	}
	if len(c.Broken) != 1 || c.Broken[0] != "sample/broken" {
		t.Errorf("broken packages = %v, want [sample/broken]", c.Broken)
	}
	for _, want := range []string{
		"--- FAIL sample/good TestFails",
		"the failure's own words",
		"undefined: undefined",
		"sample/good                                 3 passed    1 failed    2 skipped",
		"FAIL: 3 passed, 1 failed, 2 skipped; broken packages: sample/broken",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	// A run cut off in the middle (a timeout that killed go test, a lost
	// pipe) is a failure, naming what was running.
	var lines []string
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if strings.Contains(l, `"Action":"pass","Package":"sample/good","Elapsed"`) ||
			strings.Contains(l, `"Action":"fail","Package":"sample/good","Elapsed"`) ||
			strings.Contains(l, `"Test":"TestSub"`) && !strings.Contains(l, `"Action":"run"`) {
			continue
		}
		lines = append(lines, l)
	}
	out.Reset()
	c, err = Summarise(strings.NewReader(strings.Join(lines, "")), &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.OK() || !strings.Contains(out.String(), "sample/good") || !strings.Contains(out.String(), "never finished (tests still running: TestSub)") {
		t.Errorf("a cut-off run = %+v:\n%s", c, out.String())
	}

	// A test that panics ends its package inside the test: the panic is
	// shown under the test's name.
	out.Reset()
	c, _ = Summarise(strings.NewReader(`{"Action":"run","Package":"q","Test":"TestP"}
{"Action":"output","Package":"q","Test":"TestP","Output":"panic: boom\n"}
{"Action":"output","Package":"q","Output":"FAIL\tq\t0.1s\n"}
{"Action":"fail","Package":"q","Elapsed":0.1}
`), &out)
	if c.OK() || !strings.Contains(out.String(), "still running: q TestP\npanic: boom") {
		t.Errorf("a panicking test = %+v:\n%s", c, out.String())
	}

	// Everything passing is OK.
	out.Reset()
	c, _ = Summarise(strings.NewReader(`{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"pass","Package":"p","Elapsed":0.1}
`), &out)
	if !c.OK() || c.Passed != 1 || !strings.Contains(out.String(), "PASS: 1 passed, 0 failed, 0 skipped") {
		t.Errorf("a passing run = %+v:\n%s", c, out.String())
	}
}
