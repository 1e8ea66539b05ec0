package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("HASHFLEET_TEST_SECRET", "from-env")
	tests := []struct {
		name, file, env string
		require         bool
		want, wantErr   string
	}{
		{name: "file, newline trimmed", file: write("s", "s3cret\r\n"), env: "HASHFLEET_TEST_SECRET", want: "s3cret"},
		{name: "env when no file", env: "HASHFLEET_TEST_SECRET", want: "from-env"},
		{name: "unset env", env: "HASHFLEET_TEST_UNSET", want: ""},
		{name: "empty file allowed", file: write("e", "\n"), want: ""},
		{name: "empty file required", file: write("e2", "\n"), require: true, wantErr: "is empty"},
		{name: "nothing required", env: "HASHFLEET_TEST_UNSET", require: true, wantErr: "--x or $HASHFLEET_TEST_UNSET needed"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "--x: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := readSecret
			if tt.require {
				read = requireSecret
			}
			got, err := read("--x", tt.file, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
