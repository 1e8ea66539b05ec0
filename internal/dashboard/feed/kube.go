package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/kube"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// KubeSource builds dashboard snapshots for the Kubernetes backend: the
// controller's status (pods as tasks, the namespace as the master), the
// server pod's /api/stats (its pod IP and HTTP port; the controller runs
// in the cluster) and the node. Safe for concurrent use.
type KubeSource struct {
	ctl  *kube.Controller
	base *Source // the node, HTTP client and views shared with the Mesos feed
}

// NewKube returns a KubeSource over the controller c and the node (nil: no
// chain panel, no block lookups).
func NewKube(c *kube.Controller, node *chain.Client) *KubeSource {
	return &KubeSource{ctl: c, base: New(nil, "", node)}
}

// Snapshot implements dashboard.Source.
func (k *KubeSource) Snapshot(ctx context.Context) (dashboard.Snapshot, error) {
	snap := dashboard.Snapshot{Time: time.Now(), Errors: map[string]string{}}
	st := k.ctl.Status()
	snap.Cluster = dashboard.Cluster{Master: "kubernetes namespace " + st.Namespace, FrameworkID: st.Leader, Connected: st.Connected}
	if st.LastError != "" {
		snap.Errors["controller"] = st.LastError
	}
	for _, p := range st.Pods {
		state := p.Phase
		if p.Waiting != "" {
			state += " (" + p.Waiting + ")"
		}
		ready := p.Ready
		snap.Cluster.Tasks = append(snap.Cluster.Tasks, dashboard.Task{ID: p.Name, Role: string(p.Role), State: state,
			AgentID: p.Node, Healthy: &ready, Since: p.Created, Message: p.Message})
	}
	if st.ServerReady {
		ps, err := k.poolStats(ctx, st)
		if err != nil {
			snap.Errors["server"] = err.Error()
		} else {
			snap.Server, snap.Workers = poolView(ps, st.ServerAddr)
		}
	}
	if k.base.node != nil {
		c, err := k.base.chainView(ctx)
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

func (k *KubeSource) poolStats(ctx context.Context, st kube.Status) (pool.Stats, error) {
	if st.Server == nil || st.Server.IP == "" {
		return pool.Stats{}, errors.New("feed: the server pod has no IP yet")
	}
	var ps pool.Stats
	url := fmt.Sprintf("http://%s/api/stats", net.JoinHostPort(st.Server.IP, strconv.Itoa(kube.HTTPPort)))
	err := k.base.getJSON(ctx, url, &ps)
	return ps, err
}

// LookupBlock implements dashboard.BlockLooker.
func (k *KubeSource) LookupBlock(ctx context.Context, hash string) (json.RawMessage, error) {
	return k.base.LookupBlock(ctx, hash)
}
