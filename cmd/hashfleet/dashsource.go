package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// dashSource builds dashboard snapshots from the scheduler's status, the
// Mesos master's /master/state, the miner server's /api/stats and the node's
// RPC. Each part that fails is reported in Snapshot.Errors; the rest is
// still shown.
type dashSource struct {
	sched     *scheduler.Scheduler
	masterURL string // http://host:port of the master; "" = the one the scheduler is subscribed to
	node      *chain.Client
	http      *http.Client
	recent    int // recent chain blocks shown
}

func newDashSource(s *scheduler.Scheduler, masterURL string, node *chain.Client) *dashSource {
	return &dashSource{sched: s, masterURL: masterURL, node: node, http: &http.Client{Timeout: 3 * time.Second}, recent: 6}
}

// Snapshot implements dashboard.Source.
func (d *dashSource) Snapshot(ctx context.Context) (dashboard.Snapshot, error) {
	snap := dashboard.Snapshot{Time: time.Now(), Errors: map[string]string{}}
	st := d.sched.Status()
	snap.Cluster = dashboard.Cluster{Master: st.Master, FrameworkID: st.FrameworkID, Connected: st.Connected}
	if st.LastError != "" {
		snap.Errors["scheduler"] = st.LastError
	}
	for _, t := range st.Tasks {
		snap.Cluster.Tasks = append(snap.Cluster.Tasks, dashboard.Task{
			ID: t.ID, Role: string(t.Role), State: t.State, AgentID: t.AgentID, Healthy: t.Healthy,
			Since: t.UpdatedAt, Message: t.Message,
		})
	}
	if base := d.masterBase(st.Master); base != "" {
		agents, err := d.agents(ctx, base)
		if err != nil {
			snap.Errors["master"] = err.Error()
		}
		snap.Cluster.Agents = agents
	}

	if st.Server != nil && st.Server.State == "TASK_RUNNING" && len(st.Server.Ports) >= 2 {
		ps, err := d.poolStats(ctx, fmt.Sprintf("http://%s:%d/api/stats", st.Server.Hostname, st.Server.Ports[1]))
		if err != nil {
			snap.Errors["server"] = err.Error()
		} else {
			snap.Server, snap.Workers = poolView(ps, st.ServerAddr)
		}
	}

	if d.node != nil {
		c, err := d.chainView(ctx)
		if err != nil {
			snap.Errors["node"] = err.Error()
		}
		snap.Chain = c
	}
	if len(snap.Errors) == 0 {
		snap.Errors = nil
	}
	return snap, nil
}

func (d *dashSource) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 32<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}

func (d *dashSource) poolStats(ctx context.Context, url string) (pool.Stats, error) {
	var ps pool.Stats
	err := d.getJSON(ctx, url, &ps)
	return ps, err
}

func poolView(ps pool.Stats, addr string) (dashboard.Pool, []dashboard.Worker) {
	p := dashboard.Pool{
		Address: addr, Connections: ps.Connections, HashRate: ps.HashrateHs,
		Accepted: ps.SharesAccepted, Rejected: ps.RejectReasons,
	}
	if p.Address == "" {
		p.Address = ps.StratumAddr
	}
	if ps.Job != nil {
		p.JobHeight = ps.Job.Height
	}
	var ws []dashboard.Worker
	for _, w := range ps.Workers {
		if w.Connections == 0 && w.HashrateHs == 0 {
			continue // gone; its totals stay in the pool's store
		}
		ws = append(ws, dashboard.Worker{Name: w.Name, HashRate: w.HashrateHs, Accepted: w.Accepted, Rejected: w.Rejected, Difficulty: w.Difficulty})
		p.Difficulty = max(p.Difficulty, w.Difficulty)
	}
	for _, b := range ps.Blocks {
		p.Blocks = append(p.Blocks, blockView(b))
	}
	return p, ws
}

// masterState is the subset of Mesos's /master/state used for the agents.
type masterState struct {
	Slaves []struct {
		ID        string         `json:"id"`
		Hostname  string         `json:"hostname"`
		Active    bool           `json:"active"`
		Resources map[string]any `json:"resources"`
		Used      map[string]any `json:"used_resources"`
	} `json:"slaves"`
}

// masterBase is the master's http(s)://host:port: the configured one, or
// the endpoint the scheduler is subscribed to (it follows leader changes).
func (d *dashSource) masterBase(endpoint string) string {
	if d.masterURL != "" {
		return strings.TrimSuffix(d.masterURL, "/")
	}
	if i := strings.Index(endpoint, "/api/v1/scheduler"); i > 0 {
		return endpoint[:i]
	}
	return ""
}

func (d *dashSource) agents(ctx context.Context, base string) ([]dashboard.Agent, error) {
	var ms masterState
	if err := d.getJSON(ctx, base+"/master/state", &ms); err != nil {
		return nil, err
	}
	var out []dashboard.Agent
	for _, s := range ms.Slaves {
		out = append(out, dashboard.Agent{ID: s.ID, Hostname: s.Hostname, Active: s.Active,
			Resources: resString(s.Resources), Used: resString(s.Used)})
	}
	return out, nil
}

func resString(m map[string]any) string {
	var parts []string
	for _, k := range []string{"cpus", "mem", "disk", "ports"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case float64:
			if x == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s:%g", k, x))
		case string:
			if x == "" || x == "[]" {
				continue
			}
			parts = append(parts, k+":"+x)
		}
	}
	return strings.Join(parts, " ")
}

func (d *dashSource) chainView(ctx context.Context) (dashboard.Chain, error) {
	info, err := d.node.GetBlockChainInfo(ctx)
	if err != nil {
		return dashboard.Chain{}, err
	}
	c := dashboard.Chain{Network: info.Chain, Height: info.Blocks, BestHash: info.BestBlockHash}
	var errs []error
	for h := info.Blocks; h > 0 && h > info.Blocks-int64(d.recent); h-- {
		var hash string
		if err := d.node.Call(ctx, "getblockhash", []any{h}, &hash); err != nil {
			errs = append(errs, err)
			break
		}
		var hdr struct {
			Time int64 `json:"time"`
		}
		if err := d.node.Call(ctx, "getblockheader", []any{hash, true}, &hdr); err != nil {
			errs = append(errs, err)
			break
		}
		c.Recent = append(c.Recent, dashboard.Block{Height: h, Hash: hash, Time: time.Unix(hdr.Time, 0)})
	}
	return c, errors.Join(errs...)
}

// LookupBlock implements dashboard.BlockLooker with verbose getblock.
func (d *dashSource) LookupBlock(ctx context.Context, hash string) (json.RawMessage, error) {
	if d.node == nil {
		return nil, errors.New("no node")
	}
	var raw json.RawMessage
	if err := d.node.Call(ctx, "getblock", []any{hash, 1}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// sortedKeys is used to print maps deterministically.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func blockView(b pool.BlockRecord) dashboard.Block {
	v := dashboard.Block{Height: b.Height, Hash: b.Hash, Time: b.Time, Ours: true, State: b.State}
	if b.State == pool.BlockOrphaned {
		v.Result = b.Reason
	} else if !b.Accepted {
		v.Result = b.NodeResult
		if v.Result == "" {
			v.Result = "not accepted"
		}
	}
	return v
}

// work returns the total difficulty of the shares the current server
// accepted from all workers (each worth difficulty·2³² hashes expected).
func (d *dashSource) work(ctx context.Context) (float64, error) {
	st := d.sched.Status()
	if st.Server == nil || len(st.Server.Ports) < 2 {
		return 0, errors.New("no server")
	}
	ps, err := d.poolStats(ctx, fmt.Sprintf("http://%s:%d/api/stats", st.Server.Hostname, st.Server.Ports[1]))
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, w := range ps.Workers {
		sum += w.DiffSum
	}
	return sum, nil
}
