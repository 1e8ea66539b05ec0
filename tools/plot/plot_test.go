package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkSVG parses doc as XML and returns the counts of each element; it
// fails unless the root is an <svg> in the SVG namespace with a viewBox.
func checkSVG(t *testing.T, name string, doc []byte) map[string]int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	counts := map[string]int{}
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", name, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				viewBox := false
				for _, a := range el.Attr {
					viewBox = viewBox || a.Name.Local == "viewBox"
				}
				if el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg" || !viewBox {
					t.Fatalf("%s: root element %v (viewBox %v), want an SVG <svg> with a viewBox", name, el.Name, viewBox)
				}
			}
			depth++
			counts[el.Name.Local]++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || counts["svg"] != 1 {
		t.Fatalf("%s: unbalanced document (depth %d, %d svg elements)", name, depth, counts["svg"])
	}
	return counts
}

// TestCommittedPlots renders every measurement file under docs/scale:
// each gives a valid SVG with a marker per point and a line per series of
// several points, and equals the SVG committed beside it.
func TestCommittedPlots(t *testing.T) {
	files, err := filepath.Glob("../../docs/scale/*.tsv")
	if err != nil || len(files) == 0 {
		t.Fatalf("no measurement files in docs/scale (%v)", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(path, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			doc := Render(c)
			counts := checkSVG(t, path, doc)
			points, lines := 0, 0
			for _, s := range c.Series {
				points += len(s.Points)
				if len(s.Points) > 1 {
					lines++
				}
			}
			if counts["circle"] != points || counts["polyline"] != lines {
				t.Errorf("%d markers and %d lines, want %d and %d", counts["circle"], counts["polyline"], points, lines)
			}
			svg := strings.TrimSuffix(path, ".tsv") + ".svg"
			committed, err := os.ReadFile(svg)
			if err != nil || !bytes.Equal(committed, doc) {
				t.Errorf("%s is missing or out of date (%v): run go run ./tools/plot docs/scale/*.tsv", svg, err)
			}
		})
	}
}

// TestMalformed: bad measurement files are refused with the file, the
// line and what is wrong.
func TestMalformed(t *testing.T) {
	const head = "# title: T\nN\tseries\n"
	tests := []struct {
		name, in, want string
	}{
		{name: "not a number", in: head + "100\tfast\n", want: `f.tsv:3: series: "fast" is not a number`},
		{name: "bad x", in: head + "1e\t5\n", want: `f.tsv:3: x: "1e" is not a number`},
		{name: "missing column", in: head + "100\n", want: "f.tsv:3: row \"100\": 1 columns, the header has 2"},
		{name: "extra column", in: head + "100\t1\t2\n", want: "f.tsv:3: row \"100\\t1\\t2\": 3 columns, the header has 2"},
		{name: "zero on a log scale", in: head + "100\t0\n", want: "f.tsv:3: series: 0 on a log scale: values must be positive"},
		{name: "negative x on a log scale", in: head + "-5\t1\n", want: "f.tsv:3: x: -5 on a log scale"},
		{name: "no title", in: "N\tseries\n100\t1\n", want: "f.tsv: no '# title:' line"},
		{name: "no rows", in: head, want: "f.tsv: no data rows"},
		{name: "no header", in: "# title: T\n", want: "f.tsv: no header line"},
		{name: "header without series", in: "# title: T\nN\n100\t1\n", want: "f.tsv:2: header \"N\": want the x column and at least one series"},
		{name: "unnamed series", in: "# title: T\nN\t\n", want: "f.tsv:2: header \"N\\t\": a series without a name"},
		{name: "bad scale", in: "# title: T\n# scale: cubic\n", want: `f.tsv:2: scale "cubic": want log-log, log-linear or linear`},
		{name: "bad goal", in: "# title: T\n# goal: ten ms\n", want: `f.tsv:2: goal: "ten" is not a number`},
		{name: "infinite", in: head + "100\tInf\n", want: `f.tsv:3: series: "Inf" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.tsv", strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want an error containing %q", c, err, tt.want)
			}
		})
	}
}

// TestLinearAndMissing: a linear chart starts at 0 and rounds its top up;
// "-" leaves a series without that point; a one-point series has no line.
func TestLinearAndMissing(t *testing.T) {
	in := "# title: T & <U>\n# scale: linear\n# goal: 40 goal\nN\ta\tb\n1\t3\t-\n2\t37\t5\n3\t-\t-\n"
	c, err := Parse("f.tsv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{len(c.Series[0].Points), len(c.Series[1].Points)}; got[0] != 2 || got[1] != 1 {
		t.Fatalf("points per series: got %v, want [2 1]", got)
	}
	counts := checkSVG(t, "f.tsv", Render(c))
	if counts["circle"] != 3 || counts["polyline"] != 1 {
		t.Errorf("got %d markers and %d lines, want 3 and 1", counts["circle"], counts["polyline"])
	}
	a := newAxis(false, []float64{3, 37, 5, 40}, 0, 100, "")
	if a.lo != 0 || a.hi != 40 || len(a.ticks) != 5 {
		t.Errorf("linear axis over 3..40: lo %v hi %v ticks %v, want 0, 40 and 5 ticks", a.lo, a.hi, a.ticks)
	}
}

func TestLabels(t *testing.T) {
	for _, tt := range []struct {
		v           float64
		tick, value string
	}{
		{v: 100, tick: "100", value: "100"},
		{v: 1000, tick: "1k", value: "1,000"},
		{v: 12600, tick: "12.6k", value: "12,600"},
		{v: 1e6, tick: "1M", value: "1,000,000"},
		{v: 0.5, tick: "0.5", value: "0.5"},
		{v: 14.26, tick: "14.26", value: "14.3"},
	} {
		if got := tickLabel(tt.v); got != tt.tick {
			t.Errorf("tickLabel(%v) = %q, want %q", tt.v, got, tt.tick)
		}
		if got := valueLabel(tt.v); got != tt.value {
			t.Errorf("valueLabel(%v) = %q, want %q", tt.v, got, tt.value)
		}
	}
}
