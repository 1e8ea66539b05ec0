package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

//go:embed static
var staticFS embed.FS

// Config configures a dashboard Server.
type Config struct {
	Source   Source        // required
	Blocks   BlockLooker   // optional: enables /api/blocks/{hash}
	Logger   *slog.Logger  // required
	Interval time.Duration // sampling interval; default 1s
	History  int           // points kept for the charts; default 300
	// MaxWorkers caps how many workers get their own chart series; the rest
	// are summed into the total only. Default 32.
	MaxWorkers int
	// Title is shown in the page header; default "hashfleet".
	Title string
	// RecentBlocks is how many of the latest found blocks a snapshot (and
	// each server-sent update) carries; older ones are paged through
	// /api/found. Default 20.
	RecentBlocks int
}

// Point is one sample of the hash-rate history.
type Point struct {
	Time    time.Time          `json:"t"`
	Total   float64            `json:"total"`
	Workers map[string]float64 `json:"workers,omitempty"`
}

// Server samples a Source and serves the dashboard. Create it with New and
// start sampling with Run; Handler may be served before Run starts.
type Server struct {
	cfg    Config
	static http.Handler

	mu      sync.Mutex // guards the fields below; held only for copies
	last    Snapshot
	found   []Block // every found block the source reported, oldest first
	history []Point // ring: oldest first after trim
	subs    map[chan []byte]struct{}
}

// New validates cfg and applies defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("dashboard: Source is required")
	}
	if cfg.Logger == nil {
		return nil, errors.New("dashboard: Logger is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.History <= 0 {
		cfg.History = 300
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 32
	}
	if cfg.RecentBlocks <= 0 {
		cfg.RecentBlocks = 20
	}
	if cfg.Title == "" {
		cfg.Title = "hashfleet"
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("dashboard: embedded assets: %w", err)
	}
	return &Server{
		cfg:    cfg,
		static: http.FileServerFS(sub),
		subs:   make(map[chan []byte]struct{}),
	}, nil
}

// Run samples the source every Interval until ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.sample(ctx)
		select {
		case <-ctx.Done():
			s.closeSubs()
			return nil
		case <-t.C:
		}
	}
}

func (s *Server) sample(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Interval*3)
	snap, err := s.cfg.Source.Snapshot(sctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("dashboard: snapshot failed", "err", err)
		if snap.Errors == nil {
			snap.Errors = map[string]string{}
		}
		snap.Errors["source"] = err.Error()
	}
	if snap.Time.IsZero() {
		snap.Time = time.Now()
	}
	found := snap.Server.Blocks
	snap.Server.BlocksTotal = len(found)
	if n := len(found) - s.cfg.RecentBlocks; n > 0 {
		snap.Server.Blocks = found[n:]
	}
	p := Point{Time: snap.Time, Total: snap.Server.HashRate}
	if len(snap.Workers) > 0 {
		p.Workers = make(map[string]float64, min(len(snap.Workers), s.cfg.MaxWorkers))
		var sum float64
		for i, w := range snap.Workers {
			sum += w.HashRate
			if i < s.cfg.MaxWorkers {
				p.Workers[w.Name] = w.HashRate
			}
		}
		if p.Total == 0 {
			p.Total = sum
		}
	}
	msg, err := json.Marshal(struct {
		Snapshot Snapshot `json:"snapshot"`
		Point    Point    `json:"point"`
	}{snap, p})
	if err != nil {
		s.cfg.Logger.Error("dashboard: encode snapshot", "err", err)
		return
	}

	s.mu.Lock()
	s.last = snap
	s.found = found
	s.history = append(s.history, p)
	if n := len(s.history) - s.cfg.History; n > 0 {
		s.history = append(s.history[:0:0], s.history[n:]...)
	}
	for c := range s.subs {
		select {
		case c <- msg:
		default: // a browser that cannot keep up is dropped, never waited on
			delete(s.subs, c)
			close(c)
		}
	}
	s.mu.Unlock()
}

func (s *Server) closeSubs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.subs {
		delete(s.subs, c)
		close(c)
	}
}

// Last returns the latest snapshot and a copy of the history.
func (s *Server) Last() (Snapshot, []Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, append([]Point(nil), s.history...)
}

// Handler returns the dashboard's routes: / (the page), /static/…,
// /api/snapshot, /api/history, /api/events (server-sent events),
// /api/blocks/{hash} and /api/found (found blocks, a page at a time). Mount it at the root of a mux.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /static/", http.StripPrefix("/static/", s.static))
	mux.HandleFunc("GET /api/snapshot", s.snapshot)
	mux.HandleFunc("GET /api/history", s.historyJSON)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("GET /api/blocks/{hash}", s.block)
	mux.HandleFunc("GET /api/found", s.foundPage)
	return mux
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, "dashboard: missing index", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) snapshot(w http.ResponseWriter, _ *http.Request) {
	snap, _ := s.Last()
	writeJSON(w, http.StatusOK, snap)
}

func (s *Server) historyJSON(w http.ResponseWriter, _ *http.Request) {
	_, h := s.Last()
	writeJSON(w, http.StatusOK, h)
}

// FoundPage is one page of /api/found: blocks found, newest first,
// starting Offset blocks back from the newest, of Total in all.
type FoundPage struct {
	Total  int     `json:"total"`
	Offset int     `json:"offset"`
	Blocks []Block `json:"blocks"`
}

// maxFoundPage bounds ?limit= of /api/found.
const maxFoundPage = 500

// foundPage serves /api/found?offset=N&limit=M (defaults 0 and
// RecentBlocks; limit at most maxFoundPage).
func (s *Server) foundPage(w http.ResponseWriter, r *http.Request) {
	offset, limit := 0, s.cfg.RecentBlocks
	for name, dst := range map[string]*int{"offset": &offset, "limit": &limit} {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (name == "limit" && (n == 0 || n > maxFoundPage)) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("dashboard: %s=%q: want a whole number (limit 1..%d)", name, v, maxFoundPage)})
			return
		}
		*dst = n
	}
	s.mu.Lock()
	found := s.found
	s.mu.Unlock()
	page := FoundPage{Total: len(found), Offset: offset, Blocks: []Block{}}
	for i := len(found) - 1 - offset; i >= 0 && len(page.Blocks) < limit; i-- {
		page.Blocks = append(page.Blocks, found[i])
	}
	writeJSON(w, http.StatusOK, page)
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	if !hashRE.MatchString(hash) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dashboard: block hash must be 64 lower-case hex characters"})
		return
	}
	if s.cfg.Blocks == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "dashboard: no node connected"})
		return
	}
	raw, err := s.cfg.Blocks.LookupBlock(r.Context(), hash)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "dashboard: streaming unsupported", http.StatusInternalServerError)
		return
	}
	c := make(chan []byte, 8)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.subs[c]; ok {
			delete(s.subs, c)
			close(c)
		}
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-c:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", msg); err != nil {
				return
			}
			fl.Flush()
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}
