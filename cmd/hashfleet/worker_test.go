package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkerPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     string
		want    string
		wantErr bool
		wantLog string
	}{
		{name: "default", want: "x"},
		{name: "env", env: "from-env", want: "from-env"},
		{name: "file beats env", args: []string{"--pass-file", file}, env: "from-env", want: "from-file"},
		{name: "flag warns", args: []string{"-p", "from-flag"}, want: "from-flag", wantLog: "visible in the process list"},
		{name: "flag and file", args: []string{"-p", "a", "--pass-file", file}, wantErr: true},
		{name: "missing file", args: []string{"--pass-file", filepath.Join(dir, "nope")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(workerPasswordEnv, tt.env)
			} else {
				t.Setenv(workerPasswordEnv, "")
				os.Unsetenv(workerPasswordEnv)
			}
			cmd := newWorkerCmd()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			var f workerFlags
			f.pass, _ = cmd.Flags().GetString("pass")
			f.passFile, _ = cmd.Flags().GetString("pass-file")
			var logs bytes.Buffer
			got, err := workerPassword(cmd, &f, slog.New(slog.NewTextHandler(&logs, nil)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLog)
			}
			if strings.Contains(logs.String(), "from-") {
				t.Errorf("log %q holds the password", logs.String())
			}
		})
	}
}

func TestWorkerBenchmarkCommand(t *testing.T) {
	cmd := newWorkerCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--benchmark", "-t", "1", "--time-limit", "200ms", "--impl", "generic", "--log-level", "error"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Total: ") || !strings.Contains(out.String(), "impl generic") {
		t.Errorf("got %q, want a Total line for impl generic", out.String())
	}
}

func TestWorkerNeedsPool(t *testing.T) {
	cmd := newWorkerCmd()
	cmd.SetArgs([]string{"-u", "u"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "no pool") {
		t.Errorf("got %v, want a no-pool error", err)
	}
}
