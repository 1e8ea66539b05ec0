// Package dashboardtest drives a real headless chromium (Debian's package)
// over the DevTools protocol, for tests of the dashboard in a browser.
package dashboardtest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// Browser drives a real headless chromium over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands on fd 3, replies on fd 4, each
// message NUL-terminated), so tests can poll a live page.
type Browser struct {
	cmd     *exec.Cmd
	w       io.WriteCloser
	session string

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpReply
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartBrowser starts headless chromium; it is killed (with its helper
// processes) when the test ends.
func StartBrowser(t testing.TB, chrome string) *Browser {
	t.Helper()
	inR, inW, err := os.Pipe() // we write commands → chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe() // chromium writes fd 4 → we read
	if err != nil {
		t.Fatal(err)
	}
	profile, err := os.MkdirTemp("", "hashfleet-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chrome, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars", "--user-data-dir="+profile, "about:blank")
	cmd.ExtraFiles = []*os.File{inR, outW}
	// Its own temporary files (singleton socket and cookie) go in the
	// profile too, so the cleanup below removes them even after SIGKILL.
	cmd.Env = append(os.Environ(), "TMPDIR="+profile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers die with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	inR.Close()
	outW.Close()
	b := &Browser{cmd: cmd, w: inW, pending: map[int]chan cdpReply{}}
	go b.readLoop(outR)
	t.Cleanup(func() {
		inW.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = os.RemoveAll(profile)
	})
	return b
}

func (b *Browser) readLoop(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, c := range b.pending {
				close(c)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // events are not needed
		}
		b.mu.Lock()
		c := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if c != nil {
			c <- m.cdpReply
		}
	}
}

// call sends one command (to the attached page when session is set) and
// decodes its result into out.
func (b *Browser) call(ctx context.Context, method string, params, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	c := make(chan cdpReply, 1)
	b.pending[id] = c
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if b.session != "" && method[:7] != "Target." {
		msg["sessionId"] = b.session
	}
	raw, _ := json.Marshal(msg)
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("cdp %s: write: %w", method, err)
	}
	select {
	case r, ok := <-c:
		if !ok {
			return fmt.Errorf("cdp %s: browser exited", method)
		}
		if r.Error != nil {
			return fmt.Errorf("cdp %s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cdp %s: %w", method, ctx.Err())
	}
}

// Open creates a page of the given size at url and attaches to it.
func (b *Browser) Open(ctx context.Context, url string, width, height int) error {
	var tgt struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "Target.createTarget", map[string]any{"url": "about:blank"}, &tgt); err != nil {
		return err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}, &att); err != nil {
		return err
	}
	b.session = att.SessionID
	if err := b.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
	}, nil); err != nil {
		return err
	}
	return b.call(ctx, "Page.navigate", map[string]any{"url": url}, nil)
}

// Eval evaluates a JavaScript expression in the page and decodes its value.
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("cdp eval %q: %s", expr, r.ExceptionDetails.Text)
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("cdp eval %q: no value", expr)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// WaitFor polls expr (a boolean expression) until it is true or ctx ends.
func (b *Browser) WaitFor(ctx context.Context, expr string) error {
	for {
		var ok bool
		err := b.Eval(ctx, expr, &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error %v)", expr, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Screenshot saves a PNG of the whole page, beyond the viewport.
func (b *Browser) Screenshot(ctx context.Context, path string) error {
	var m struct {
		CSSContentSize struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := b.call(ctx, "Page.getLayoutMetrics", map[string]any{}, &m); err != nil {
		return err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := b.call(ctx, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": m.CSSContentSize.Width, "height": m.CSSContentSize.Height, "scale": 1},
	}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return fmt.Errorf("cdp screenshot: %w", err)
	}
	return os.WriteFile(path, png, 0o644)
}

// ChromiumPath finds Debian's chromium, or skips (fails under
// HASHFLEET_REQUIRE_INTEGRATION=1, as in CI).
func ChromiumPath(t testing.TB) string {
	t.Helper()
	return partstest.Require(t, parts.Chromium).Path
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
