package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/sha256d"
)

func TestBenchJSON(t *testing.T) {
	var out bytes.Buffer
	f := benchFlags{threads: 2, duration: 50 * time.Millisecond, impl: "generic", json: true, baseline: true}
	if err := runBenchCmd(context.Background(), &out, f); err != nil {
		t.Fatalf("runBenchCmd: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	for _, field := range []string{"impl", "threads", "hashes", "seconds", "hashes_per_second", "per_thread", "baseline"} {
		if _, ok := got[field]; !ok {
			t.Errorf("JSON lacks field %q: %s", field, out.String())
		}
	}
	if got["impl"] != "generic" {
		t.Errorf("impl: got %v, want generic", got["impl"])
	}
	if got["threads"] != float64(2) {
		t.Errorf("threads: got %v, want 2", got["threads"])
	}
	if h, _ := got["hashes"].(float64); h <= 0 {
		t.Errorf("hashes: got %v, want > 0", got["hashes"])
	}
}

func TestBenchText(t *testing.T) {
	var out bytes.Buffer
	f := benchFlags{threads: 1, duration: 30 * time.Millisecond, impl: "auto"}
	if err := runBenchCmd(context.Background(), &out, f); err != nil {
		t.Fatalf("runBenchCmd: %v", err)
	}
	// auto measures and names its choice; the run then uses that choice.
	_, after, ok := strings.Cut(out.String(), " -> ")
	choice, _, _ := strings.Cut(after, "\n")
	if !ok || choice == "" {
		t.Fatalf("output lacks the auto choice (\"-> NAME\"):\n%s", out.String())
	}
	for _, want := range []string{"bench: auto measured ", "impl " + choice + " (", "thread 0:", "total:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchAutoJSON(t *testing.T) {
	var out bytes.Buffer
	f := benchFlags{threads: 1, duration: 20 * time.Millisecond, impl: "auto", json: true}
	if err := runBenchCmd(context.Background(), &out, f); err != nil {
		t.Fatalf("runBenchCmd: %v", err)
	}
	var got benchResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	measured := map[string]float64{}
	for _, r := range got.Calibration {
		measured[r.Impl] = r.HashesPerSecond
	}
	for _, im := range sha256d.Impls() {
		if _, ok := measured[im.Name]; ok != im.Available {
			t.Errorf("%s: available %v, measured %v: %s", im.Name, im.Available, ok, out.String())
		}
	}
	if _, ok := measured[got.Impl]; !ok {
		t.Errorf("impl %q is not one of the measured %v", got.Impl, got.Calibration)
	}
	if want, err := sha256d.Fastest(got.Calibration); err != nil || got.Impl != want {
		t.Errorf("impl %q, fastest measured %q (%v)", got.Impl, want, err)
	}
}

func TestBenchErrors(t *testing.T) {
	tests := []struct {
		name string
		f    benchFlags
		want string
	}{
		{name: "unknown impl", f: benchFlags{threads: 1, duration: time.Millisecond, impl: "sse9"}, want: "supported by this CPU: "},
		{name: "zero threads", f: benchFlags{threads: 0, duration: time.Millisecond, impl: "auto"}, want: "--threads"},
		{name: "zero duration", f: benchFlags{threads: 1, impl: "auto"}, want: "--duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runBenchCmd(context.Background(), &bytes.Buffer{}, tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBenchImplList(t *testing.T) {
	var out bytes.Buffer
	if err := runBenchCmd(context.Background(), &out, benchFlags{impl: "list"}); err != nil {
		t.Fatal(err)
	}
	runnable, reasons, ok := strings.Cut(out.String(), "not available here:")
	for _, im := range sha256d.Impls() {
		if im.Available != strings.Contains(runnable, "  "+im.Name+" ") {
			t.Errorf("%s (available %v) listed wrongly as runnable:\n%s", im.Name, im.Available, out.String())
		}
	}
	for _, im := range sha256d.Unavailable() {
		if !ok || !strings.Contains(reasons, "  "+im.Name+": "+im.Missing+"\n") {
			t.Errorf("%s: reason %q not listed:\n%s", im.Name, im.Missing, out.String())
		}
	}
}
