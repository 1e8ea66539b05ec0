package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Content types of the v1 API.
const (
	ctJSON     = "application/json"
	ctProtobuf = "application/x-protobuf"
)

// Handler returns the master's HTTP API: POST /api/v1/scheduler (also
// /master/api/v1/scheduler), GET /state (also /master/state, /state.json)
// and GET /health. It is safe for concurrent use and answers 503 once Run
// has returned.
func (m *Master) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", m.serveScheduler)
	mux.HandleFunc("/master/api/v1/scheduler", m.serveScheduler)
	for _, p := range []string{"/state", "/master/state", "/state.json", "/master/state.json"} {
		mux.HandleFunc(p, m.serveState)
	}
	mux.HandleFunc("/health", serveHealth)
	mux.HandleFunc("/master/health", serveHealth)
	return mux
}

func serveHealth(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func (m *Master) reply(w http.ResponseWriter, call mesos.CallType, code int, msg string) {
	m.metrics.calls.WithLabelValues(string(call), strconv.Itoa(code)).Inc()
	if msg == "" {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (m *Master) serveScheduler(w http.ResponseWriter, r *http.Request) {
	principal, ok := m.admitCall(w, r)
	if !ok {
		return
	}
	call, ok := m.readCall(w, r, principal)
	if !ok {
		return
	}
	sid, hasSID := r.Header["Mesos-Stream-Id"]
	if call.Type == mesos.CallSubscribe {
		if hasSID {
			m.reply(w, call.Type, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
			return
		}
		if !acceptsJSON(r.Header.Values("Accept")) {
			m.reply(w, call.Type, http.StatusNotAcceptable, "Expecting 'Accept' to allow application/json or application/x-protobuf")
			return
		}
		m.serveSubscribe(w, r, call)
		return
	}
	streamID := ""
	if hasSID && len(sid) > 0 {
		streamID = sid[0]
	}
	req := callReq{call: call, principal: principal, streamID: streamID, hasStream: hasSID, reply: make(chan callResult, 1)}
	if err := sendReq(r.Context(), m, m.callc, req); err != nil {
		m.reply(w, call.Type, http.StatusServiceUnavailable, "Master is shutting down")
		return
	}
	res, err := recv(r.Context(), m, req.reply)
	if err != nil {
		m.reply(w, call.Type, http.StatusServiceUnavailable, "Master is shutting down")
		return
	}
	m.reply(w, call.Type, res.code, res.body)
}

// admitCall checks, in Mesos's order, what comes before the body:
// authentication, leadership, method and content type. It replies and
// returns ok=false when the request goes no further.
func (m *Master) admitCall(w http.ResponseWriter, r *http.Request) (string, bool) {
	// Authentication comes first: in Mesos libprocess runs the
	// authenticator before the endpoint handler (even on a non-leader).
	principal := ""
	if m.auth != nil {
		p, ok := m.auth.authenticate(r)
		if !ok {
			m.log.Debug("unauthenticated scheduler API request", "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Basic realm="`+AuthRealm+`"`)
			m.reply(w, "", http.StatusUnauthorized, "")
			return "", false
		}
		principal = p
	}
	if st := m.lead.Load(); st == nil || !st.self {
		if st != nil && st.leader != "" {
			p := r.URL.Path
			if !strings.HasPrefix(p, "/master/") {
				p = "/master" + p
			}
			w.Header().Set("Location", "//"+st.leader+p)
			m.reply(w, "", http.StatusTemporaryRedirect, "")
			return "", false
		}
		m.reply(w, "", http.StatusServiceUnavailable, "No leader elected")
		return "", false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		m.reply(w, "", http.StatusMethodNotAllowed, fmt.Sprintf("Expecting one of { 'POST' }, but received '%s'", r.Method))
		return "", false
	}
	ct, ok := r.Header["Content-Type"]
	if !ok || len(ct) == 0 {
		m.reply(w, "", http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return "", false
	}
	switch ct[0] {
	case ctJSON:
	case ctProtobuf:
		// Mesos accepts protobuf; this master has no protobuf codec and
		// says so rather than misparsing.
		m.reply(w, "", http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json (application/x-protobuf is not supported by this master)")
		return "", false
	default:
		m.reply(w, "", http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json or application/x-protobuf")
		return "", false
	}
	return principal, true
}

// readCall reads, parses and validates the call in the body. It replies
// and returns ok=false when the call is refused.
func (m *Master) readCall(w http.ResponseWriter, r *http.Request, principal string) (*mesos.Call, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			m.reply(w, "", http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body exceeds %d bytes", m.cfg.MaxBodyBytes))
			return nil, false
		}
		m.reply(w, "", http.StatusBadRequest, "Failed to read request body: "+err.Error())
		return nil, false
	}
	call, err := parseCall(body)
	if err != nil {
		m.reply(w, "", http.StatusBadRequest, err.Error())
		return nil, false
	}
	if err := validateCall(call); err != nil {
		m.reply(w, call.Type, http.StatusBadRequest, "Failed to validate scheduler::Call: "+err.Error())
		return nil, false
	}
	if call.Type == mesos.CallSubscribe && principal != "" {
		// Part of Mesos's call validation; an unset principal is filled in.
		fi := &call.Subscribe.FrameworkInfo
		if fi.Principal == "" {
			fi.Principal = principal
		} else if fi.Principal != principal {
			m.reply(w, call.Type, http.StatusBadRequest, "Failed to validate scheduler::Call: "+principalMismatchMessage(principal, fi.Principal))
			return nil, false
		}
	}
	return call, true
}

// serveSubscribe streams RecordIO-framed events until either side ends the
// subscription.
func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, call *mesos.Call) {
	s := &stream{id: connID(m.nextCon.Add(1)), events: make(chan *mesos.Event, m.cfg.StreamQueue), done: make(chan struct{})}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	req := subscribeReq{call: call, addr: addr, s: s, reply: make(chan string, 1)}
	ctx := r.Context()
	if err := sendReq(ctx, m, m.subc, req); err != nil {
		m.reply(w, call.Type, http.StatusServiceUnavailable, "Master is shutting down")
		return
	}
	streamID, err := recv(context.WithoutCancel(ctx), m, req.reply)
	if err != nil {
		m.reply(w, call.Type, http.StatusServiceUnavailable, "Master is shutting down")
		return
	}
	m.metrics.calls.WithLabelValues(string(call.Type), "200").Inc()
	w.Header().Set("Content-Type", ctJSON)
	w.Header().Set("Mesos-Stream-Id", streamID)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := mesos.NewEncoder(w)
	write := func(ev *mesos.Event) bool {
		if err := enc.Encode(*ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	hangUp := func() {
		select {
		case m.closec <- s.id:
		case <-m.stopped:
		}
	}
	for {
		select {
		case ev := <-s.events:
			if !write(ev) {
				hangUp()
				return
			}
		case <-s.done:
			for {
				select {
				case ev := <-s.events:
					if !write(ev) {
						return
					}
				default:
					return
				}
			}
		case <-ctx.Done():
			hangUp()
			return
		}
	}
}

// acceptsJSON reports whether the Accept header values allow JSON (no
// header accepts everything).
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range splitComma(v) {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			if mt == ctJSON || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	for _, p := range bytes.Split([]byte(s), []byte(",")) {
		if t := bytes.TrimSpace(p); len(t) > 0 {
			out = append(out, string(t))
		}
	}
	return out
}

// parseCall decodes a JSON call body as Mesos's JSON-to-protobuf
// conversion does (see protojson.go).
func parseCall(body []byte) (*mesos.Call, error) {
	if !json.Valid(body) {
		var raw any
		err := json.Unmarshal(body, &raw)
		return nil, fmt.Errorf("Failed to parse body into JSON: %v", err)
	}
	var call mesos.Call
	if err := decodeProto(body, &call); err != nil {
		return nil, fmt.Errorf("Failed to convert JSON into Call protobuf: %v", err)
	}
	return &call, nil
}

// validateCall mirrors validation::scheduler::call::validate (required
// proto fields were checked by parseCall).
func validateCall(c *mesos.Call) error {
	if c.Type == "" {
		return errors.New("Expecting 'type' to be present")
	}
	idOf := func(id *mesos.FrameworkID) string {
		if id == nil {
			return ""
		}
		return id.Value
	}
	if c.Type == mesos.CallSubscribe {
		if c.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
		// An unset id equals an unset framework_id; an id on one side only
		// is a difference.
		if idOf(c.Subscribe.FrameworkInfo.ID) != idOf(c.FrameworkID) {
			return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	if c.FrameworkID == nil {
		return errors.New("Expecting 'framework_id' to be present")
	}
	need := func(present bool, name string) error {
		if !present {
			return fmt.Errorf("Expecting '%s' to be present", name)
		}
		return nil
	}
	switch c.Type {
	case mesos.CallAccept:
		return need(c.Accept != nil, "accept")
	case mesos.CallDecline:
		return need(c.Decline != nil, "decline")
	case mesos.CallAcceptInverseOffers:
		return need(c.AcceptInverseOffers != nil, "accept_inverse_offers")
	case mesos.CallDeclineInverseOffers:
		return need(c.DeclineInverseOffers != nil, "decline_inverse_offers")
	case mesos.CallKill:
		return need(c.Kill != nil, "kill")
	case mesos.CallShutdown:
		return need(c.Shutdown != nil, "shutdown")
	case mesos.CallAcknowledge:
		if err := need(c.Acknowledge != nil, "acknowledge"); err != nil {
			return err
		}
		return validUUID(c.Acknowledge.UUID)
	case mesos.CallAcknowledgeOperationStatus:
		if err := need(c.AcknowledgeOperationStatus != nil, "acknowledge_operation_status"); err != nil {
			return err
		}
		if err := validUUID(c.AcknowledgeOperationStatus.UUID); err != nil {
			return err
		}
		return need(c.AcknowledgeOperationStatus.AgentID != nil, "agent_id")
	case mesos.CallReconcile:
		return need(c.Reconcile != nil, "reconcile")
	case mesos.CallReconcileOperations:
		return need(c.ReconcileOperations != nil, "reconcile_operations")
	case mesos.CallMessage:
		return need(c.Message != nil, "message")
	case mesos.CallRequest:
		return need(c.Request != nil, "request")
	case mesos.CallUpdateFramework:
		if err := need(c.UpdateFramework != nil, "update_framework"); err != nil {
			return err
		}
		if idOf(c.UpdateFramework.FrameworkInfo.ID) != c.FrameworkID.Value {
			return errors.New("'framework_id' differs from 'update_framework.framework_info.id'")
		}
	}
	return nil
}

// validUUID mirrors id::UUID::fromBytes: exactly 16 bytes.
func validUUID(b []byte) error {
	if len(b) != 16 {
		return errors.New("Not a valid UUID")
	}
	return nil
}

func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	reply := make(chan []byte, 1)
	if err := sendReq(r.Context(), m, m.statec, reply); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	b, err := recv(r.Context(), m, reply)
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", ctJSON)
	_, _ = w.Write(b)
}
