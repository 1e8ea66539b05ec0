package master

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Version is the Mesos version this master reports in MasterInfo.
const Version = "1.11.0"

// Agent is the master's link to one in-process agent. The master calls
// these methods from its own goroutine, in the order it decided them; they
// must not block (queue the command and return).
type Agent interface {
	// LaunchTask starts a task the master accepted (state TASK_STAGING).
	LaunchTask(fw mesos.FrameworkInfo, task mesos.TaskInfo)
	// KillTask kills a task; policy, when set, overrides the task's kill policy.
	KillTask(fw mesos.FrameworkID, task mesos.TaskID, policy *mesos.KillPolicy)
	// Acknowledge forwards a scheduler's acknowledgement of the update uuid.
	Acknowledge(fw mesos.FrameworkID, task mesos.TaskID, uuid []byte)
	// ShutdownFramework kills every task of a removed framework and drops
	// its pending status updates.
	ShutdownFramework(fw mesos.FrameworkID)
	// UpdateFramework tells the agent a framework (re-)subscribed; the
	// agent resends its unacknowledged updates at once.
	UpdateFramework(fw mesos.FrameworkInfo)
}

// Config configures a Master.
type Config struct {
	// Addr is the advertised host:port of the HTTP API (MasterInfo,
	// ZooKeeper); default "127.0.0.1:5050". The master does not listen on
	// it itself: serve Handler() there.
	Addr string
	// Hostname reported in MasterInfo; default the host of Addr.
	Hostname string
	// AllocationInterval is the period of the batch allocator; default 1 s.
	AllocationInterval time.Duration
	// StreamQueue is how many events may wait for one slow subscriber
	// before its stream is dropped; default 1024.
	StreamQueue int
	// MaxBodyBytes limits a call's request body; default 16 MiB.
	MaxBodyBytes int64
	// MaxFrameworks limits the registered frameworks (connected, or
	// disconnected within their failover_timeout); a SUBSCRIBE of a new
	// framework beyond it is refused with an ERROR event. Default 1000.
	MaxFrameworks int
	// MaxFrameworksPerAddr limits the registered frameworks subscribed
	// from one IP address, so that one host cannot take every slot.
	// Default 100.
	MaxFrameworksPerAddr int
	// Logger receives the master's logs; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the master's metrics; nil means none.
	Registerer prometheus.Registerer
	// ZK, when set (zk://host:port[,…]/path), makes the master a contender
	// like a Mesos master with --zk: it registers its MasterInfo there and
	// serves the scheduler API only while it leads; otherwise it answers
	// 307 to the leader (503 when none is known). Empty: always leader.
	ZK string
	// Credentials (principal -> secret), when non-nil, turns on HTTP
	// framework authentication like a Mesos master started with
	// --authenticate_http_frameworks --http_framework_authenticators=basic
	// --credentials=FILE: every /api/v1/scheduler request must carry
	// valid basic credentials (else 401 with a WWW-Authenticate challenge
	// for realm AuthRealm), a SUBSCRIBE's FrameworkInfo.principal must be
	// the authenticated principal (it is filled in when unset), and every
	// other call must come from the framework's principal (else 400).
	// /state and /health stay unauthenticated, as on a Mesos master
	// without --authenticate_http_readonly. Secrets are never logged.
	Credentials map[string]string
}

// Validate reports configuration errors; it does not apply defaults.
func (c *Config) Validate() error {
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("master: config: addr %q: %w", c.Addr, err)
		}
	}
	if c.ZK != "" {
		if _, err := mesos.ParseZKURL(c.ZK); err != nil {
			return fmt.Errorf("master: config: %w", err)
		}
	}
	if c.AllocationInterval < 0 || c.StreamQueue < 0 || c.MaxBodyBytes < 0 || c.MaxFrameworks < 0 || c.MaxFrameworksPerAddr < 0 {
		return errors.New("master: config: negative interval or limit")
	}
	if err := validateCredentials(c.Credentials); err != nil {
		return fmt.Errorf("master: config: %w", err)
	}
	return nil
}

// Master is an embedded Mesos-compatible master: the server side of the v1
// scheduler API plus in-process agent registration. All state lives in one
// goroutine (Run); every exported method is safe for concurrent use and
// blocks until Run has handled it (or ctx ends).
type Master struct {
	cfg     Config
	log     *slog.Logger
	info    mesos.MasterInfo
	metrics *metrics
	auth    *authenticator // nil: no authentication

	subc    chan subscribeReq
	callc   chan callReq
	closec  chan connID
	agentc  chan agentReq
	updatec chan updateReq
	statec  chan chan []byte
	stopped chan struct{}
	running atomic.Bool
	nextCon atomic.Uint64
	lead    atomic.Pointer[leadership] // nil: no leader known yet

	// Owned by Run.
	core    *core
	streams map[connID]*stream
	agents  map[string]Agent
}

type subscribeReq struct {
	call  *mesos.Call
	addr  string // the subscriber's IP address
	s     *stream
	reply chan string // stream id; buffered(1)
}

type callReq struct {
	call      *mesos.Call
	principal string // authenticated principal; "" without authentication
	streamID  string
	hasStream bool
	reply     chan callResult // buffered(1)
}

type agentReq struct {
	remove bool
	// partition / reconnect: the agent becomes unreachable / comes back.
	partition, reconnect bool
	id                   string
	hostname             string
	res                  resources
	agent                Agent
	reply                chan string // buffered(1)
}

type updateReq struct {
	fw     string
	status mesos.TaskStatus
	latest mesos.TaskState
	done   chan struct{}
}

// stream is one SUBSCRIBE connection. Run sends events to it without
// blocking and closes done when the master ends the stream. The queue
// holds pointers: 1024 Event values (96 bytes each) were 96 KiB a stream,
// most of the ~140 KiB issue #14 measured; 1024 pointers are 8 KiB.
type stream struct {
	id     connID
	events chan *mesos.Event
	done   chan struct{}
}

// New returns a Master; call Run to start it.
func New(cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:5050"
	}
	host, portStr, _ := net.SplitHostPort(cfg.Addr)
	if cfg.Hostname == "" {
		cfg.Hostname = host
		if cfg.Hostname == "" || cfg.Hostname == "0.0.0.0" || cfg.Hostname == "::" {
			cfg.Hostname = "localhost"
		}
	}
	if cfg.AllocationInterval == 0 {
		cfg.AllocationInterval = time.Second
	}
	if cfg.StreamQueue == 0 {
		cfg.StreamQueue = 1024
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.MaxFrameworks == 0 {
		cfg.MaxFrameworks = 1000
	}
	if cfg.MaxFrameworksPerAddr == 0 {
		cfg.MaxFrameworksPerAddr = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	port, _ := strconv.Atoi(portStr)
	id := randomUUID()
	ip := "127.0.0.1"
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() && !a.IsUnspecified() {
		ip = a.String()
	}
	a4 := netip.MustParseAddr(ip).As4()
	info := mesos.MasterInfo{
		ID:       id,
		IP:       binary.LittleEndian.Uint32(a4[:]), // network byte order read as a host (little-endian) uint32
		Port:     uint32(port),
		PID:      fmt.Sprintf("master@%s:%d", ip, port),
		Hostname: cfg.Hostname,
		Version:  Version,
		Address:  &mesos.Address{Hostname: cfg.Hostname, IP: ip, Port: int32(port)},
		Capabilities: []mesos.MasterCapability{
			{Type: "AGENT_UPDATE"}, {Type: "AGENT_DRAINING"}, {Type: "QUOTA_V2"},
		},
	}
	m := &Master{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "minimesos-master", "master_id", id),
		info:    info,
		metrics: newMetrics(cfg.Registerer),
		auth:    newAuthenticator(cfg.Credentials),
		subc:    make(chan subscribeReq),
		callc:   make(chan callReq),
		closec:  make(chan connID),
		agentc:  make(chan agentReq),
		updatec: make(chan updateReq),
		statec:  make(chan chan []byte),
		stopped: make(chan struct{}),
	}
	m.cfg.Credentials = nil // only the digests in m.auth are kept
	if cfg.ZK == "" {
		m.lead.Store(&leadership{self: true})
	}
	return m, nil
}

// Info returns the MasterInfo this master reports (id, address, version).
func (m *Master) Info() mesos.MasterInfo { return m.info }

// Run owns the master's state until ctx is cancelled; then it ends every
// subscription stream and returns nil. Run must be called once.
func (m *Master) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("master: Run called twice")
	}
	defer close(m.stopped)
	m.core = newCore(m.info, m.cfg.AllocationInterval, time.Now())
	m.core.maxFrameworks, m.core.maxPerAddr = m.cfg.MaxFrameworks, m.cfg.MaxFrameworksPerAddr
	m.streams = map[connID]*stream{}
	m.agents = map[string]Agent{}
	m.log.Info("master started", "addr", m.cfg.Addr, "version", Version)
	zkErr, stopZK := m.startContending(ctx)
	defer stopZK()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(m.core.nextDeadline()))
		select {
		case err := <-zkErr:
			zkErr <- err // for the deferred wait
			m.closeStreams()
			if ctx.Err() != nil {
				return nil
			}
			m.log.Error("aborting", "err", err)
			return err
		case <-ctx.Done():
			m.closeStreams()
			m.log.Info("master stopped")
			return nil
		case <-timer.C:
			m.core.tick(time.Now())
		case r := <-m.subc:
			m.streams[r.s.id] = r.s
			r.reply <- m.core.subscribe(time.Now(), r.s.id, r.addr, r.call)
		case r := <-m.callc:
			if res, bad := m.core.principalMismatch(r.call, r.principal); bad {
				r.reply <- res
				break
			}
			r.reply <- m.core.call(time.Now(), r.call, r.streamID, r.hasStream)
		case id := <-m.closec:
			m.streamClosed(id)
		case r := <-m.agentc:
			r.reply <- m.agentChange(r)
		case r := <-m.updatec:
			m.core.statusUpdate(time.Now(), r.fw, r.status, r.latest)
			close(r.done)
		case reply := <-m.statec:
			reply <- m.core.stateJSON(time.Now())
		}
		m.apply()
	}
}

// startContending runs the ZooKeeper leader contention when the master
// has a ZK address: the returned channel yields its end (nil channel
// without ZK), and stop ends it and waits for it.
func (m *Master) startContending(ctx context.Context) (zkErr chan error, stop func()) {
	if m.cfg.ZK == "" {
		return nil, func() {}
	}
	zkErr = make(chan error, 1)
	zctx, stopZK := context.WithCancel(ctx)
	go func() {
		err := m.contend(zctx, m.cfg.ZK)
		m.lead.Store(nil)
		if err == nil {
			err = zctx.Err()
		}
		zkErr <- err
	}()
	return zkErr, func() {
		stopZK()
		<-zkErr
	}
}

// streamClosed forgets a subscription stream whose connection ended.
// Only Run's goroutine calls it.
func (m *Master) streamClosed(id connID) {
	if s := m.streams[id]; s != nil {
		delete(m.streams, id)
		close(s.done)
	}
	m.core.disconnected(time.Now(), id)
}

// agentChange applies an agent's registration, removal, partition or
// reconnection and returns its id. Only Run's goroutine calls it.
func (m *Master) agentChange(r agentReq) string {
	now := time.Now()
	switch {
	case r.partition:
		m.core.markUnreachable(now, r.id)
	case r.reconnect:
		m.core.reregisterAgent(now, r.id)
	case r.remove:
		m.core.removeAgent(now, r.id)
		delete(m.agents, r.id)
	default:
		id := m.core.addAgent(now, r.hostname, r.res)
		m.agents[id] = r.agent
		return id
	}
	return r.id
}

func (m *Master) closeStreams() {
	for id, s := range m.streams {
		close(s.done)
		delete(m.streams, id)
	}
}

// apply carries out the core's decisions, repeating while they produce more
// (a dropped slow stream is a disconnection).
func (m *Master) apply() {
	for {
		out := m.core.take()
		if len(out.sends) == 0 && len(out.closes) == 0 && len(out.ops) == 0 {
			break
		}
		for _, s := range out.sends {
			st := m.streams[s.conn]
			if st == nil {
				continue
			}
			ev := s.ev
			select {
			case st.events <- &ev:
				m.metrics.events.WithLabelValues(string(s.ev.Type)).Inc()
			default:
				m.metrics.dropped.Inc()
				m.log.Warn("dropping slow subscriber", "stream", s.conn)
				delete(m.streams, s.conn)
				close(st.done)
				m.core.disconnected(time.Now(), s.conn)
			}
		}
		for _, id := range out.closes {
			if st := m.streams[id]; st != nil {
				delete(m.streams, id)
				close(st.done)
			}
		}
		for _, op := range out.ops {
			a := m.agents[op.agent]
			if a == nil {
				continue
			}
			switch op.kind {
			case opLaunch:
				a.LaunchTask(op.fw, op.task)
			case opKill:
				a.KillTask(op.fwID, op.taskID, op.policy)
			case opAck:
				a.Acknowledge(op.fwID, op.taskID, op.uuid)
			case opShutdownFramework:
				a.ShutdownFramework(op.fwID)
			case opUpdateFramework:
				a.UpdateFramework(op.fw)
			}
		}
	}
	m.metrics.observe(m.core)
}

// errStopped is returned by the exported methods once Run has returned.
var errStopped = errors.New("master: stopped")

func sendReq[T any](ctx context.Context, m *Master, c chan T, v T) error {
	select {
	case c <- v:
		return nil
	case <-m.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func recv[T any](ctx context.Context, m *Master, c chan T) (T, error) {
	var zero T
	select {
	case v := <-c:
		return v, nil
	case <-m.stopped:
		return zero, errStopped
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// RegisterAgent adds an agent with the given total resources and returns
// the id the master assigned it (<master id>-S<n>). The master starts
// offering its resources at once.
func (m *Master) RegisterAgent(ctx context.Context, hostname string, total []mesos.Resource, a Agent) (mesos.AgentID, error) {
	res, err := parseResources(total)
	if err != nil {
		return mesos.AgentID{}, fmt.Errorf("master: register agent: %w", err)
	}
	if a == nil {
		return mesos.AgentID{}, errors.New("master: register agent: nil agent")
	}
	r := agentReq{hostname: hostname, res: res, agent: a, reply: make(chan string, 1)}
	if err := sendReq(ctx, m, m.agentc, r); err != nil {
		return mesos.AgentID{}, err
	}
	id, err := recv(ctx, m, r.reply)
	return mesos.AgentID{Value: id}, err
}

// RemoveAgent removes an agent that went away: its offers are rescinded
// and its tasks reported lost (TASK_GONE for PARTITION_AWARE frameworks).
func (m *Master) RemoveAgent(ctx context.Context, id mesos.AgentID) error {
	r := agentReq{remove: true, id: id.Value, reply: make(chan string, 1)}
	if err := sendReq(ctx, m, m.agentc, r); err != nil {
		return err
	}
	_, err := recv(ctx, m, r.reply)
	return err
}

// PartitionAgent makes the master treat an in-process agent as
// unreachable, as a Mesos master does with an agent that misses its health
// checks: offers rescinded, FAILURE, its tasks TASK_UNREACHABLE
// (TASK_LOST for frameworks that are not PARTITION_AWARE), and neither
// commands to it nor updates from it until ReconnectAgent. The agent
// itself keeps running its tasks (and retrying its updates).
func (m *Master) PartitionAgent(ctx context.Context, id mesos.AgentID) error {
	return m.agentCall(ctx, agentReq{partition: true, id: id.Value, reply: make(chan string, 1)})
}

// ReconnectAgent ends a partition: the agent's tasks are back in the
// state they had, its updates are taken again, its resources offered.
func (m *Master) ReconnectAgent(ctx context.Context, id mesos.AgentID) error {
	return m.agentCall(ctx, agentReq{reconnect: true, id: id.Value, reply: make(chan string, 1)})
}

func (m *Master) agentCall(ctx context.Context, r agentReq) error {
	if err := sendReq(ctx, m, m.agentc, r); err != nil {
		return err
	}
	_, err := recv(ctx, m, r.reply)
	return err
}

// StatusUpdate delivers a reliable status update from an agent. latest is
// the state of the newest update the agent holds for the task (the
// master's current state of the task). The update reaches the scheduler
// if it is connected; the agent retries until it is acknowledged.
func (m *Master) StatusUpdate(ctx context.Context, fw mesos.FrameworkID, st mesos.TaskStatus, latest mesos.TaskState) error {
	r := updateReq{fw: fw.Value, status: st, latest: latest, done: make(chan struct{})}
	if err := sendReq(ctx, m, m.updatec, r); err != nil {
		return err
	}
	_, err := recv(ctx, m, r.done)
	return err
}
