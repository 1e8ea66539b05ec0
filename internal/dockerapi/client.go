// Package dockerapi is a small Docker Engine API client over the engine's
// unix socket: the calls the minimesos agent makes to run DOCKER tasks and
// the ones `hashfleet demo` makes for its network (network.go). JSON in,
// JSON out, one typed error; no dependency beyond the standard library.
package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultSocket is where the engine listens unless told otherwise.
const DefaultSocket = "/var/run/docker.sock"

// urlPrefix is the scheme and host of request URLs; the socket is what
// matters, the host is never resolved.
const urlPrefix = "http://docker"

// Client speaks the Docker Engine HTTP API. It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

// New returns a client of the engine at socket ("" = DefaultSocket).
func New(socket string) *Client {
	if socket == "" {
		socket = DefaultSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 8,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket is the engine's socket path.
func (c *Client) Socket() string { return c.socket }

// Error is a non-success answer of the engine.
type Error struct {
	Op      string // "METHOD /path"
	Status  int    // HTTP status
	Message string // the engine's message
}

func (e *Error) Error() string {
	return fmt.Sprintf("docker: %s: %d %s", e.Op, e.Status, e.Message)
}

// IsNotFound reports whether err is the engine's 404 (no such container,
// image or network).
func IsNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == http.StatusNotFound
}

// Do sends a request with body (JSON-encoded when non-nil) and decodes a
// JSON answer into out (when non-nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Stream sends a GET and returns the answer's body for the caller to read
// and close (container logs with follow=1).
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, urlPrefix+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var m struct{ Message string }
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		return nil, &Error{Op: method + " " + path, Status: resp.StatusCode, Message: m.Message}
	}
	return resp, nil
}

// Ping reports whether the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/_ping", nil, nil)
}

// Available reports whether an engine answers on socket ("" =
// DefaultSocket) within 2 s.
func Available(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return New(socket).Ping(ctx)
}

// InspectImage fails (IsNotFound) when the engine has no image ref.
func (c *Client) InspectImage(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodGet, "/images/"+url.PathEscape(ref)+"/json", nil, nil)
}

// Container is one entry of ListContainers.
type Container struct {
	ID     string
	Labels map[string]string
}

// ListContainers lists the containers, running or not, that match
// filters (the engine's filter syntax: "label": {"k=v"}, "network": {…}).
func (c *Client) ListContainers(ctx context.Context, filters map[string][]string) ([]Container, error) {
	var cs []Container
	err := c.Do(ctx, http.MethodGet, "/containers/json?all=1&filters="+encodeFilters(filters), nil, &cs)
	return cs, err
}

// RemoveContainer removes a container by id or name, forcibly, with its
// anonymous volumes.
func (c *Client) RemoveContainer(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, "/containers/"+url.PathEscape(ref)+"?force=1&v=1", nil, nil)
}

// NetworkSummary is one entry of ListNetworks.
type NetworkSummary struct {
	ID     string
	Name   string
	Labels map[string]string
}

// ListNetworks lists the networks that match filters.
func (c *Client) ListNetworks(ctx context.Context, filters map[string][]string) ([]NetworkSummary, error) {
	var ns []NetworkSummary
	err := c.Do(ctx, http.MethodGet, "/networks?filters="+encodeFilters(filters), nil, &ns)
	return ns, err
}

// RemoveNetwork removes a network by id or name.
func (c *Client) RemoveNetwork(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, "/networks/"+url.PathEscape(ref), nil, nil)
}

func encodeFilters(f map[string][]string) string {
	b, _ := json.Marshal(f)
	return url.QueryEscape(string(b))
}
