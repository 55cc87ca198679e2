// Command testsum reads `go test -json` on stdin and prints the summary of
// roster/internal/testsum; it exits 1 unless every test passed.
package main

import (
	"fmt"
	"os"

	"roster/internal/testsum"
)

func main() {
	c, err := testsum.Summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if !c.OK() {
		os.Exit(1)
	}
}
