package agent

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Bounds on the stderr tail a failed task's status message carries.
const (
	stderrTailBytes = 1024
	stderrTailLines = 5
)

// stderrTail returns the last lines of the task's sandbox stderr (at most
// stderrTailLines lines and stderrTailBytes bytes, as one line joined by
// " | ") with the values of the task's secret environment variables
// replaced by "[redacted]", so that a failed task's status says why it
// failed ("bind: address already in use") without anyone reading the
// sandbox. "" when there is no stderr.
func stderrTail(sandbox string, ti mesos.TaskInfo) string {
	f, err := os.Open(filepath.Join(sandbox, "stderr"))
	if err != nil {
		return ""
	}
	defer f.Close()
	// Read more than kept: a secret cut at the window's edge would escape
	// redaction, so redact the wider window first.
	const window = 4 * stderrTailBytes
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(fi.Size()-window, io.SeekStart); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, window))
	if err != nil {
		return ""
	}
	text := strings.ToValidUTF8(string(b), "?")
	for _, s := range secretValues(ti) {
		text = strings.ReplaceAll(text, s, "[redacted]")
	}
	var lines []string
	for l := range strings.SplitSeq(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > stderrTailLines {
		lines = lines[len(lines)-stderrTailLines:]
	}
	out := strings.Join(lines, " | ")
	for len(out) > stderrTailBytes {
		_, size := utf8.DecodeRuneInString(out)
		out = out[size:]
	}
	return out
}

// secretValues are the values of the task's environment that must not be
// shown: SECRET variables, and VALUE variables whose name says they hold a
// password, secret, token or key.
func secretValues(ti mesos.TaskInfo) []string {
	if ti.Command == nil || ti.Command.Environment == nil {
		return nil
	}
	var out []string
	for _, v := range ti.Command.Environment.Variables {
		val := ""
		switch {
		case v.Secret != nil && v.Secret.Value != nil:
			val = string(v.Secret.Value.Data)
		case v.Value != nil && secretName(v.Name):
			val = *v.Value
		}
		if len(val) >= 4 { // shorter values would redact ordinary text
			out = append(out, val)
		}
	}
	return out
}

func secretName(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "_KEY"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
