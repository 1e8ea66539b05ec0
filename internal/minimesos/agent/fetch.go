package agent

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// fetchURIs downloads CommandInfo.URIs into the sandbox like Mesos's
// fetcher: http(s) URLs and local paths (plain or file://), saved under
// output_file or the URI's base name; executable files get mode 0755;
// .tar, .tar.gz and .tgz archives are extracted unless extract is false or
// the file is executable.
func (a *Agent) fetchURIs(ctx context.Context, uris []mesos.CommandURI, sandbox string) error {
	for _, u := range uris {
		if err := a.fetchOne(ctx, u, sandbox); err != nil {
			return fmt.Errorf("fetch %s: %w", redactURL(u.Value), err)
		}
	}
	return nil
}

func (a *Agent) fetchOne(ctx context.Context, u mesos.CommandURI, sandbox string) error {
	parsed, err := url.Parse(u.Value)
	if err != nil {
		return err
	}
	name := u.OutputFile
	if name == "" {
		name = path.Base(parsed.Path)
	}
	if name == "" || name == "." || name == "/" || strings.Contains(name, "..") {
		return fmt.Errorf("cannot derive a file name from %q", u.Value)
	}
	dst := filepath.Join(sandbox, filepath.Clean("/"+name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	executable := u.Executable != nil && *u.Executable
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	var src io.ReadCloser
	switch parsed.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Value, nil)
		if err != nil {
			return err
		}
		resp, err := a.cfg.HTTPClient.Do(req)
		if err != nil {
			return errors.New(strings.ReplaceAll(err.Error(), u.Value, redactURL(u.Value)))
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		src = resp.Body
	case "", "file":
		f, err := os.Open(parsed.Path)
		if err != nil {
			return err
		}
		src = f
	default:
		return fmt.Errorf("unsupported scheme %q", parsed.Scheme)
	}
	defer src.Close()
	tmp := dst + ".fetching"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	extract := u.Extract == nil || *u.Extract
	if extract && !executable && isTar(name) {
		return extractTar(dst, sandbox)
	}
	return nil
}

func isTar(name string) bool {
	return strings.HasSuffix(name, ".tar") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")
}

// extractTar unpacks a (gzipped) tar into dir, refusing paths that escape it.
func extractTar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if !strings.HasSuffix(file, ".tar") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			out.Close()
			if err != nil {
				return err
			}
		}
	}
}

// redactURL drops userinfo and query from a URL for logs and messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
