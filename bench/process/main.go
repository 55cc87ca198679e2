// Command process runs Roster's upload pipeline (avatar.Process with the
// default limits) over files, the way vipsthumbnail runs over them: read
// each file, process it, write the result into a directory. The harness
// times this command from outside exactly as it times vipsthumbnail.
//
//	process -o OUTDIR photo1.jpg photo2.jpg ...
//
// It prints the time spent inside avatar.Process alone, as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"roster/internal/avatar"
)

func main() {
	out := flag.String("o", "", "directory to write the results into")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: process -o OUTDIR FILE...")
		os.Exit(2)
	}
	var inside time.Duration
	for _, name := range flag.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fail(err)
		}
		start := time.Now()
		img, err := avatar.Process(data, avatar.DefaultLimits())
		inside += time.Since(start)
		if err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
		base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		if err := os.WriteFile(filepath.Join(*out, base+img.Format.Ext()), img.Data, 0o644); err != nil {
			fail(err)
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"files": flag.NArg(), "process_seconds": inside.Seconds()})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "process:", err)
	os.Exit(1)
}
