package master

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.txt with the actual output")

// TestScripts runs the protocol scripts in testdata/*.txt against the pure
// core (raft style): each "> command" line is followed by the exact
// events, HTTP answers and agent commands it must produce. Time only moves
// with "> tick". Run with -rewrite to regenerate the expectations.
//
// Commands:
//
//	agent HOST RESOURCES            register an agent (ids S0, S1, …)
//	remove-agent S0
//	partition S0 / reconnect S0     the agent becomes unreachable / comes back
//	subscribe NAME [pa] [multi] [killing] [role=R] [roles=A,B] [failover=SECS] [resume] [suppress=R] [addr=IP]
//	limits MAX PER_ADDR             Config.MaxFrameworks, MaxFrameworksPerAddr
//	disconnect NAME                 the scheduler's stream breaks
//	decline NAME OFFER… [refuse=SECS]
//	launch NAME OFFER[,OFFER…] TASK[@AGENT]=RESOURCES… [refuse=SECS] [pa]
//	kill NAME TASK [agent=S0]
//	reconcile NAME [TASK[@AGENT]…]
//	ack NAME TASK                   acknowledges the last uuid NAME got for TASK
//	revive NAME [ROLE…] / suppress NAME [ROLE…] / teardown NAME
//	call NAME STREAM JSON           a raw call; STREAM is "ok", "none" or a literal id
//	update NAME TASK STATE [agent=S0]   an agent's reliable status update
//	tick DURATION
//	frameworks                      list frameworks (and removed ones)
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt scripts")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type scriptRunner struct {
	t      *testing.T
	c      *core
	now    time.Time
	conns  map[connID]string // conn -> "name#n"
	byName map[string]connID // current conn per name
	fwIDs  map[string]string // name -> framework id
	infos  map[string]mesos.FrameworkInfo
	uuids  map[string][]byte // name/task -> last uuid received
	nconn  connID
	nuuid  byte
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := &scriptRunner{t: t, c: newCore(mesos.MasterInfo{ID: "m"}, time.Second, time.Unix(1_700_000_000, 0)),
		now: time.Unix(1_700_000_000, 0), conns: map[connID]string{}, byName: map[string]connID{},
		fwIDs: map[string]string{}, infos: map[string]mesos.FrameworkInfo{}, uuids: map[string][]byte{}}
	r.c.newUUID = func() string { return fmt.Sprintf("stream-%d", r.nconn) }
	var out bytes.Buffer
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); {
		line := lines[i]
		if !strings.HasPrefix(line, "> ") {
			out.WriteString(line)
			out.WriteByte('\n')
			i++
			continue
		}
		out.WriteString(line + "\n")
		j := i + 1
		var want []string
		for j < len(lines) && !strings.HasPrefix(lines[j], "> ") && lines[j] != "" && !strings.HasPrefix(lines[j], "#") {
			want = append(want, lines[j])
			j++
		}
		got := r.exec(strings.TrimPrefix(line, "> "))
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\n got:\n\t%s\nwant:\n\t%s", file, i+1, line, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		i = j
	}
	if *rewrite {
		res := strings.TrimRight(out.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(res), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *scriptRunner) short(id string) string { return strings.TrimPrefix(id, "m-") }
func (r *scriptRunner) long(id string) string {
	if strings.HasPrefix(id, "m-") {
		return id
	}
	return "m-" + id
}

var optionKeys = map[string]bool{"addr": true, "refuse": true, "agent": true, "role": true, "roles": true, "failover": true, "suppress": true}

// kv splits option words ("refuse=5") out of args.
func kv(args []string) (map[string]string, []string) {
	m := map[string]string{}
	var rest []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && optionKeys[k] {
			m[k] = v
		} else {
			rest = append(rest, a)
		}
	}
	return m, rest
}

func (r *scriptRunner) filters(opts map[string]string) *mesos.Filters {
	v, ok := opts["refuse"]
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.t.Fatalf("refuse=%s: %v", v, err)
	}
	return &mesos.Filters{RefuseSeconds: &f}
}

func (r *scriptRunner) exec(cmd string) []string {
	w := strings.Fields(cmd)
	if len(w) == 0 {
		return nil
	}
	verb, args := w[0], w[1:]
	var head []string
	fwID := func(name string) mesos.FrameworkID {
		id, ok := r.fwIDs[name]
		if !ok {
			id = "m-unknown"
		}
		return mesos.FrameworkID{Value: id}
	}
	call := func(name string, c mesos.Call) {
		c.FrameworkID = &mesos.FrameworkID{Value: fwID(name).Value}
		f := r.c.frameworks[fwID(name).Value]
		sid := ""
		if f != nil {
			sid = f.streamID
		}
		res := r.c.call(r.now, &c, sid, true)
		head = append(head, strings.TrimSpace(fmt.Sprintf("-> %d %s", res.code, res.body)))
	}
	opts, args := kv(args)
	switch verb {
	case "agent":
		res := r.resOf(args[1])
		id := r.c.addAgent(r.now, args[0], res)
		head = append(head, "registered "+r.short(id))
	case "remove-agent":
		r.c.removeAgent(r.now, r.long(args[0]))
	case "partition":
		r.c.markUnreachable(r.now, r.long(args[0]))
	case "reconnect":
		r.c.reregisterAgent(r.now, r.long(args[0]))
	case "subscribe":
		name := args[0]
		fi := mesos.FrameworkInfo{User: "u", Name: name}
		for _, a := range args[1:] {
			switch a {
			case "pa":
				fi.Capabilities = append(fi.Capabilities, mesos.FrameworkCapability{Type: mesos.CapPartitionAware})
			case "multi":
				fi.Capabilities = append(fi.Capabilities, mesos.FrameworkCapability{Type: mesos.CapMultiRole})
			case "killing":
				fi.Capabilities = append(fi.Capabilities, mesos.FrameworkCapability{Type: mesos.CapTaskKillingState})
			case "resume":
				fi = r.infos[name]
				fi.ID = &mesos.FrameworkID{Value: r.fwIDs[name]}
			}
		}
		if v, ok := opts["role"]; ok {
			fi.Role = v
		}
		if v, ok := opts["roles"]; ok {
			fi.Roles = strings.Split(v, ",")
		}
		if v, ok := opts["failover"]; ok {
			fi.FailoverTimeout, _ = strconv.ParseFloat(v, 64)
		}
		c := mesos.Subscribe(fi)
		if v, ok := opts["suppress"]; ok {
			c.Subscribe.SuppressedRoles = strings.Split(v, ",")
		}
		r.nconn++
		conn := r.nconn
		r.conns[conn] = fmt.Sprintf("%s#%d", name, conn)
		r.byName[name] = conn
		r.infos[name] = fi
		r.c.subscribe(r.now, conn, opts["addr"], &c)
		if f := r.c.byConn[conn]; f != nil {
			r.fwIDs[name] = f.id
		}
	case "limits":
		r.c.maxFrameworks, _ = strconv.Atoi(args[0])
		r.c.maxPerAddr, _ = strconv.Atoi(args[1])
	case "disconnect":
		r.c.disconnected(r.now, r.byName[args[0]])
	case "decline":
		var ids []mesos.OfferID
		for _, o := range args[1:] {
			ids = append(ids, mesos.OfferID{Value: r.long(o)})
		}
		call(args[0], mesos.Call{Type: mesos.CallDecline, Decline: &mesos.CallDeclineBody{OfferIDs: ids, Filters: r.filters(opts)}})
	case "launch":
		var ids []mesos.OfferID
		for o := range strings.SplitSeq(args[1], ",") {
			if o != "-" {
				ids = append(ids, mesos.OfferID{Value: r.long(o)})
			}
		}
		var tasks []mesos.TaskInfo
		for _, spec := range args[2:] {
			name, res, _ := strings.Cut(spec, "=")
			task, agent, _ := strings.Cut(name, "@")
			if agent == "" && len(ids) > 0 {
				if o := r.c.offers[ids[0].Value]; o != nil {
					agent = o.agent
				}
			}
			sh := "true"
			tasks = append(tasks, mesos.TaskInfo{Name: task, TaskID: mesos.TaskID{Value: task},
				AgentID: mesos.AgentID{Value: r.long(agent)}, Resources: mustRes(r.t, res), Command: &mesos.CommandInfo{Value: &sh}})
		}
		c := mesos.Call{Type: mesos.CallAccept, Accept: &mesos.CallAcceptBody{OfferIDs: ids,
			Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.OperationLaunch{TaskInfos: tasks}}},
			Filters:    r.filters(opts)}}
		call(args[0], c)
	case "kill":
		k := &mesos.CallKillBody{TaskID: mesos.TaskID{Value: args[1]}}
		if a, ok := opts["agent"]; ok {
			k.AgentID = &mesos.AgentID{Value: r.long(a)}
		}
		call(args[0], mesos.Call{Type: mesos.CallKill, Kill: k})
	case "reconcile":
		body := &mesos.CallReconcileBody{}
		for _, spec := range args[1:] {
			task, agent, _ := strings.Cut(spec, "@")
			rt := mesos.ReconcileTask{TaskID: mesos.TaskID{Value: task}}
			if agent != "" {
				rt.AgentID = &mesos.AgentID{Value: r.long(agent)}
			}
			body.Tasks = append(body.Tasks, rt)
		}
		call(args[0], mesos.Call{Type: mesos.CallReconcile, Reconcile: body})
	case "ack":
		u := r.uuids[args[0]+"/"+args[1]]
		agent := ""
		if f := r.c.frameworks[fwID(args[0]).Value]; f != nil {
			if t := f.tasks[args[1]]; t != nil {
				agent = t.agent
			}
		}
		if a, ok := opts["agent"]; ok {
			agent = r.long(a)
		}
		call(args[0], mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.CallAcknowledgeBody{
			AgentID: mesos.AgentID{Value: agent}, TaskID: mesos.TaskID{Value: args[1]}, UUID: u}})
	case "revive", "suppress":
		body := &mesos.CallRolesBody{Roles: args[1:]}
		c := mesos.Call{Type: mesos.CallRevive, Revive: body}
		if verb == "suppress" {
			c = mesos.Call{Type: mesos.CallSuppress, Suppress: body}
		}
		call(args[0], c)
	case "teardown":
		call(args[0], mesos.Call{Type: mesos.CallTeardown})
	case "call":
		var c mesos.Call
		raw := strings.Join(args[2:], " ")
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			r.t.Fatalf("call json: %v", err)
		}
		if c.FrameworkID == nil {
			c.FrameworkID = &mesos.FrameworkID{Value: fwID(args[0]).Value}
		}
		sid, has := args[1], true
		switch args[1] {
		case "ok":
			if f := r.c.frameworks[c.FrameworkID.Value]; f != nil {
				sid = f.streamID
			}
		case "none":
			sid, has = "", false
		}
		res := r.c.call(r.now, &c, sid, has)
		head = append(head, strings.TrimSpace(fmt.Sprintf("-> %d %s", res.code, res.body)))
	case "update":
		f := r.c.frameworks[fwID(args[0]).Value]
		agent := ""
		if f != nil {
			if t := f.tasks[args[1]]; t != nil {
				agent = t.agent
			}
		}
		if a, ok := opts["agent"]; ok {
			agent = r.long(a)
		}
		r.nuuid++
		st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: args[1]}, State: mesos.TaskState(args[2]),
			Source: mesos.SourceExecutor, AgentID: &mesos.AgentID{Value: agent}, UUID: bytes.Repeat([]byte{r.nuuid}, 16)}
		r.c.statusUpdate(r.now, fwID(args[0]).Value, st, st.State)
	case "frameworks":
		for _, f := range r.c.sortedFrameworks() {
			head = append(head, fmt.Sprintf("%s connected=%v tasks=%d offers=%d", r.short(f.id), f.connected(), len(f.tasks), len(f.offers)))
		}
		for _, f := range r.c.completedF {
			head = append(head, fmt.Sprintf("%s removed", r.short(f.id)))
		}
	case "tick":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			r.t.Fatalf("tick: %v", err)
		}
		// Advance in allocation-interval steps so that periodic work
		// happens at the times it would in the real loop.
		end := r.now.Add(d)
		for r.now.Before(end) {
			next := r.c.nextDeadline()
			if next.After(end) {
				next = end
			}
			r.now = next
			r.c.tick(r.now)
		}
	default:
		r.t.Fatalf("unknown command %q", verb)
	}
	r.checkAvailable()
	return append(head, r.render(r.c.take())...)
}

// checkAvailable fails when an agent's cached available resources differ
// from what its tasks and offers leave.
func (r *scriptRunner) checkAvailable() {
	r.t.Helper()
	for _, a := range r.c.agentOrder {
		if fresh := a.computeAvailable(); a.availOK && !(a.avail.contains(fresh) && fresh.contains(a.avail)) {
			r.t.Fatalf("agent %s: cached available %s, computed %s", a.id, a.avail, a.computeAvailable())
		}
	}
}

func (r *scriptRunner) resOf(s string) resources {
	res, err := parseResources(mustRes(r.t, s))
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *scriptRunner) render(o output) []string {
	var out []string
	for _, s := range o.sends {
		who := r.conns[s.conn]
		ev := s.ev
		switch ev.Type {
		case mesos.EventSubscribed:
			out = append(out, fmt.Sprintf("%s <- SUBSCRIBED %s", who, r.short(ev.Subscribed.FrameworkID.Value)))
		case mesos.EventOffers:
			for _, of := range ev.Offers.Offers {
				res, _ := parseResources(of.Resources)
				role := ""
				if of.AllocationInfo != nil {
					role = " role=" + of.AllocationInfo.Role
				}
				out = append(out, fmt.Sprintf("%s <- OFFER %s %s%s %s", who, r.short(of.ID.Value), r.short(of.AgentID.Value), role, res))
			}
		case mesos.EventRescind:
			out = append(out, fmt.Sprintf("%s <- RESCIND %s", who, r.short(ev.Rescind.OfferID.Value)))
		case mesos.EventUpdate:
			st := ev.Update.Status
			u := "-"
			if st.UUID != nil {
				u = fmt.Sprintf("u%d", st.UUID[0])
				name, _, _ := strings.Cut(who, "#")
				r.uuids[name+"/"+st.TaskID.Value] = st.UUID
			}
			line := fmt.Sprintf("%s <- UPDATE %s %s %s uuid=%s", who, st.TaskID.Value, st.State,
				strings.TrimPrefix(string(st.Source), "SOURCE_"), u)
			if st.Reason != "" {
				line += " " + st.Reason
			}
			if st.Message != "" {
				line += fmt.Sprintf(" %q", strings.ReplaceAll(st.Message, "m-", ""))
			}
			out = append(out, line)
		case mesos.EventFailure:
			out = append(out, fmt.Sprintf("%s <- FAILURE %s", who, r.short(ev.Failure.AgentID.Value)))
		case mesos.EventError:
			out = append(out, fmt.Sprintf("%s <- ERROR %q", who, ev.Error.Message))
		default:
			out = append(out, fmt.Sprintf("%s <- %s", who, ev.Type))
		}
	}
	for _, c := range o.closes {
		out = append(out, r.conns[c]+" closed")
	}
	for _, op := range o.ops {
		a := r.short(op.agent)
		switch op.kind {
		case opLaunch:
			out = append(out, fmt.Sprintf("%s <- launch %s/%s", a, r.short(op.fwID.Value), op.task.TaskID.Value))
		case opKill:
			out = append(out, fmt.Sprintf("%s <- kill %s/%s", a, r.short(op.fwID.Value), op.taskID.Value))
		case opAck:
			out = append(out, fmt.Sprintf("%s <- ack %s/%s u%d", a, r.short(op.fwID.Value), op.taskID.Value, op.uuid[0]))
		case opShutdownFramework:
			out = append(out, fmt.Sprintf("%s <- shutdown %s", a, r.short(op.fwID.Value)))
		case opUpdateFramework:
			out = append(out, fmt.Sprintf("%s <- framework-updated %s", a, r.short(op.fwID.Value)))
		}
	}
	return out
}
