// Command plot turns measurement files (tab-separated, see Chart) into SVG
// charts: for each FILE.tsv it writes FILE.svg beside it. It draws the
// scale figures of BENCHMARKS.md from docs/scale/*.tsv:
//
//	go run ./tools/plot docs/scale/*.tsv
//
// A malformed file is an error naming the file and line; nothing is
// written for it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: plot FILE.tsv... (writes FILE.svg beside each)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var errs []error
	for _, path := range flag.Args() {
		if err := plotFile(path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

// plotFile renders path (NAME.tsv) to NAME.svg.
func plotFile(path string) error {
	out, ok := strings.CutSuffix(path, ".tsv")
	if !ok {
		return fmt.Errorf("%s: not a .tsv file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	c, err := Parse(path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	return os.WriteFile(out+".svg", Render(c), 0o644)
}
