// Package feed builds the dashboard's snapshots from the running system:
// the scheduler's status, the Mesos master's /master/state (the shared
// mesos.MasterState type), the miner server's /api/stats and the node's
// RPC. It is the dashboard.Source and dashboard.BlockLooker that
// `hashfleet demo` and `hashfleet scheduler` wire.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// Source builds dashboard snapshots. Each part that fails is reported in
// Snapshot.Errors; the rest is still shown. It is safe for concurrent use
// (it keeps no state between calls).
type Source struct {
	sched     *scheduler.Scheduler
	masterURL string // http://host:port of the master; "" = the one the scheduler is subscribed to
	node      *chain.Client
	http      *http.Client
	recent    int // recent chain blocks shown
}

// New returns a Source over the scheduler s, the master at masterURL ("":
// the endpoint s is subscribed to, following leader changes) and the node
// (nil: no chain panel, no block lookups).
func New(s *scheduler.Scheduler, masterURL string, node *chain.Client) *Source {
	return &Source{sched: s, masterURL: masterURL, node: node, http: &http.Client{Timeout: 3 * time.Second}, recent: 6}
}

// Snapshot implements dashboard.Source.
func (d *Source) Snapshot(ctx context.Context) (dashboard.Snapshot, error) {
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
		ps, err := d.poolStats(ctx, st.Server)
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

// Work returns the total difficulty of the shares the current server
// accepted from all workers (each worth difficulty·2³² hashes expected).
func (d *Source) Work(ctx context.Context) (float64, error) {
	st := d.sched.Status()
	if st.Server == nil || len(st.Server.Ports) < 2 {
		return 0, errors.New("feed: no server")
	}
	ps, err := d.poolStats(ctx, st.Server)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, w := range ps.Workers {
		sum += w.DiffSum
	}
	return sum, nil
}

// LookupBlock implements dashboard.BlockLooker with verbose getblock.
func (d *Source) LookupBlock(ctx context.Context, hash string) (json.RawMessage, error) {
	if d.node == nil {
		return nil, errors.New("feed: no node")
	}
	var raw json.RawMessage
	if err := d.node.Call(ctx, "getblock", []any{hash, 1}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (d *Source) getJSON(ctx context.Context, url string, v any) error {
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

// poolStats reads the server task's /api/stats (its second port).
func (d *Source) poolStats(ctx context.Context, server *scheduler.TaskView) (pool.Stats, error) {
	var ps pool.Stats
	err := d.getJSON(ctx, fmt.Sprintf("http://%s:%d/api/stats", server.Hostname, server.Ports[1]), &ps)
	return ps, err
}

// masterBase is the master's http(s)://host:port: the configured one, or
// the endpoint the scheduler is subscribed to (it follows leader changes).
func (d *Source) masterBase(endpoint string) string {
	if d.masterURL != "" {
		return strings.TrimSuffix(d.masterURL, "/")
	}
	if i := strings.Index(endpoint, "/api/v1/scheduler"); i > 0 {
		return endpoint[:i]
	}
	return ""
}

func (d *Source) agents(ctx context.Context, base string) ([]dashboard.Agent, error) {
	var ms mesos.MasterState
	if err := d.getJSON(ctx, base+"/master/state", &ms); err != nil {
		return nil, err
	}
	var out []dashboard.Agent
	for _, s := range ms.Agents {
		out = append(out, dashboard.Agent{ID: s.ID, Hostname: s.Hostname, Active: s.Active,
			Resources: resString(s.Resources), Used: resString(s.Used)})
	}
	return out, nil
}

func (d *Source) chainView(ctx context.Context) (dashboard.Chain, error) {
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
