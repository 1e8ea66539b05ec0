package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// leadership is what the HTTP layer needs to know about the election; a
// value is immutable once stored.
type leadership struct {
	self   bool   // this master leads
	leader string // host:port of the leader when another master leads
}

// errLostZK is returned by Run when the master's ZooKeeper membership
// ends; a Mesos master aborts then, and so does this one.
var errLostZK = errors.New("master: lost ZooKeeper membership")

// contend registers the master as a contender under the zk:// URL like a
// Mesos master (an ephemeral sequential json.info_ node holding MasterInfo
// as JSON; the lowest sequence leads) and keeps m.lead current until ctx
// ends or the membership is lost.
func (m *Master) contend(ctx context.Context, zkURL string) error {
	u, err := mesos.ParseZKURL(zkURL)
	if err != nil {
		return err
	}
	conn, err := mesos.DialZK(u, 10*time.Second, m.log)
	if err != nil {
		return err
	}
	defer conn.Close() // ends the session: the ephemeral node goes away
	node, err := mesos.RegisterMaster(conn, u.Path, m.info)
	if err != nil {
		return err
	}
	me := path.Base(node)
	m.log.Info("registered in ZooKeeper", "node", node)
	for {
		children, _, watch, err := conn.ChildrenW(u.Path)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %v", errLostZK, err)
		}
		if !slices.Contains(children, me) {
			return fmt.Errorf("%w: node %s is gone", errLostZK, node)
		}
		lead, _ := mesos.LeaderNode(children)
		st := &leadership{self: lead == me}
		if !st.self {
			if data, _, err := conn.Get(path.Join(u.Path, lead)); err == nil {
				var mi mesos.MasterInfo
				if json.Unmarshal(data, &mi) == nil {
					st.leader, _ = mesos.MasterAddress(mi)
				}
			}
		}
		if old := m.lead.Swap(st); old == nil || old.self != st.self || old.leader != st.leader {
			m.log.Info("leadership", "leading", st.self, "leader", st.leader)
		}
		select {
		case <-ctx.Done():
			return nil
		case ev := <-watch:
			if errors.Is(ev.Err, zk.ErrSessionExpired) || ev.State == zk.StateExpired {
				return fmt.Errorf("%w: session expired", errLostZK)
			}
		}
	}
}
