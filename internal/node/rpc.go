package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// JSON-RPC error codes, as Bitcoin Core uses them (src/rpc/protocol.h).
const (
	CodeParseError       = -32700 // RPC_PARSE_ERROR
	CodeInvalidRequest   = -32600 // RPC_INVALID_REQUEST
	CodeMethodNotFound   = -32601 // RPC_METHOD_NOT_FOUND
	CodeInternalError    = -32603 // RPC_INTERNAL_ERROR
	CodeMiscError        = -1     // RPC_MISC_ERROR
	CodeTypeError        = -3     // RPC_TYPE_ERROR
	CodeInvalidAddress   = -5     // RPC_INVALID_ADDRESS_OR_KEY
	CodeInvalidParameter = -8     // RPC_INVALID_PARAMETER
	CodeNotConnected     = -9     // RPC_CLIENT_NOT_CONNECTED
	CodeDeserialization  = -22    // RPC_DESERIALIZATION_ERROR
	CodeVerifyError      = codeVerifyError
	CodeVerifyRejected   = codeVerifyRejected
)

// maxBodyBytes bounds a request body: a 4 MB block is 8 MB of hex.
const maxBodyBytes = 32 << 20

// authFailDelay slows password guessing, as Core does.
const authFailDelay = 250 * time.Millisecond

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("node: rpc error %d: %s", e.Code, e.Message) }

func rpcErr(code int, format string, args ...any) *RPCError {
	return &RPCError{Code: code, Message: fmt.Sprintf(format, args...)}
}

var errShuttingDown = rpcErr(CodeNotConnected, "Shutting down")

// request is one JSON-RPC call.
type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// legacyResponse is the JSON-RPC 1.0 reply shape Core uses by default.
type legacyResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// v2Response is the JSON-RPC 2.0 reply: result or error, never both.
type v2Response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

// Handler returns the JSON-RPC HTTP handler (Run serves it on the RPC
// listener; exported for embedding the node behind another server).
func (n *Node) Handler() http.Handler { return http.HandlerFunc(n.serveHTTP) }

func (n *Node) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "JSONRPC server handles only POST requests", http.StatusMethodNotAllowed)
		return
	}
	if !n.authorized(r) {
		n.log.Warn("rpc: incorrect password attempt", "remote", r.RemoteAddr)
		select {
		case <-time.After(authFailDelay):
		case <-r.Context().Done():
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="jsonrpc"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return // client went away
	}
	if len(body) > maxBodyBytes {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			writeJSON(w, http.StatusInternalServerError, legacyResponse{Result: jsonNull, Error: rpcErr(CodeParseError, "Parse error"), ID: jsonNull})
			return
		}
		out := make([]json.RawMessage, 0, len(batch))
		for _, raw := range batch {
			resp, _, ok := n.call(r.Context(), raw)
			if ok {
				out = append(out, resp)
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	var probe json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		writeJSON(w, http.StatusInternalServerError, legacyResponse{Result: jsonNull, Error: rpcErr(CodeParseError, "Parse error"), ID: jsonNull})
		return
	}
	resp, status, ok := n.call(r.Context(), body)
	if !ok {
		w.WriteHeader(http.StatusNoContent) // JSON-RPC 2.0 notification
		return
	}
	writeRaw(w, status, resp)
}

var jsonNull = json.RawMessage("null")

// authorized checks HTTP basic auth in constant time.
func (n *Node) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	gu, wu := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(n.user))
	gp, wp := sha256.Sum256([]byte(p)), sha256.Sum256([]byte(n.password))
	return subtle.ConstantTimeCompare(gu[:], wu[:])&subtle.ConstantTimeCompare(gp[:], wp[:]) == 1
}

// call runs one request and returns its encoded reply and the HTTP status
// Core would use for it alone; ok is false for a 2.0 notification (no reply).
func (n *Node) call(ctx context.Context, raw json.RawMessage) (resp json.RawMessage, status int, ok bool) {
	var req request
	var rerr *RPCError
	var result any
	if err := json.Unmarshal(raw, &req); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			rerr = rpcErr(CodeInvalidRequest, "Invalid Request object")
		} else {
			rerr = rpcErr(CodeInvalidRequest, "Invalid request field types")
		}
	} else if req.Method == nil {
		rerr = rpcErr(CodeInvalidRequest, "Missing method")
	} else {
		start := time.Now()
		result, rerr = n.safeDispatch(ctx, *req.Method, req.Params)
		n.log.Debug("rpc", "method", *req.Method, "dur", time.Since(start), "err", errString(rerr))
	}
	id := req.ID
	if len(id) == 0 {
		id = jsonNull
	}
	v2 := req.JSONRPC == "2.0"
	if v2 && len(req.ID) == 0 {
		return nil, http.StatusNoContent, false
	}
	var res json.RawMessage = jsonNull
	if rerr == nil {
		b, err := json.Marshal(result)
		if err != nil {
			rerr = rpcErr(CodeInternalError, "encode result: %v", err)
		} else {
			res = b
		}
	}
	status = http.StatusOK
	var out any
	switch {
	case v2 && rerr == nil:
		out = v2Response{JSONRPC: "2.0", Result: res, ID: id}
	case v2:
		out = v2Response{JSONRPC: "2.0", Error: rerr, ID: id}
	default:
		out = legacyResponse{Result: res, Error: rerr, ID: id}
		if rerr != nil {
			switch rerr.Code {
			case CodeInvalidRequest:
				status = http.StatusBadRequest
			case CodeMethodNotFound:
				status = http.StatusNotFound
			default:
				status = http.StatusInternalServerError
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		b = []byte(`{"result":null,"error":{"code":-32603,"message":"encode reply"},"id":null}`)
	}
	return b, status, true
}

func errString(e *RPCError) string {
	if e == nil {
		return ""
	}
	return strconv.Itoa(e.Code) + " " + e.Message
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"result":null,"error":{"code":-32603,"message":"encode reply"},"id":null}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// safeDispatch is dispatch with a panic in a handler turned into a
// JSON-RPC internal error for this request alone (and logged with its
// stack), so that one bad call never drops the client's connection or
// takes the node down.
func (n *Node) safeDispatch(ctx context.Context, name string, rawParams json.RawMessage) (res any, rerr *RPCError) {
	defer func() {
		if v := recover(); v != nil {
			n.log.Error("rpc: handler panicked", "method", name, "panic", v, "stack", string(debug.Stack()))
			res, rerr = nil, rpcErr(CodeInternalError, "Internal error in %.64s; see the node's log", name)
		}
	}()
	return n.dispatch(ctx, name, rawParams)
}

// dispatch finds the method, maps named params to positions and runs it.
func (n *Node) dispatch(ctx context.Context, name string, rawParams json.RawMessage) (any, *RPCError) {
	m, ok := methods[name]
	if !ok {
		return nil, rpcErr(CodeMethodNotFound, "Method not found")
	}
	var p params
	trimmed := bytes.TrimSpace(rawParams)
	switch {
	case len(trimmed) == 0 || string(trimmed) == "null":
	case trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &p); err != nil {
			return nil, rpcErr(CodeInvalidRequest, "Params must be an array or object")
		}
	case trimmed[0] == '{':
		var named map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &named); err != nil {
			return nil, rpcErr(CodeInvalidRequest, "Params must be an array or object")
		}
		for k := range named {
			found := false
			for _, pn := range m.params {
				found = found || pn == k
			}
			if !found {
				return nil, rpcErr(CodeInvalidParameter, "Unknown named parameter %s", k)
			}
		}
		for i, pn := range m.params {
			if v, ok := named[pn]; ok {
				for len(p) < i {
					p = append(p, nil)
				}
				p = append(p, v)
			}
		}
	default:
		return nil, rpcErr(CodeInvalidRequest, "Params must be an array or object")
	}
	for len(p) > 0 && (len(p[len(p)-1]) == 0 || string(p[len(p)-1]) == "null") {
		p = p[:len(p)-1] // trailing nulls are omitted arguments
	}
	if len(p) < m.required || len(p) > len(m.params) {
		return nil, rpcErr(CodeMiscError, "%s", m.usage(name))
	}
	res, err := m.fn(ctx, n, p)
	if err != nil {
		var re *RPCError
		if errors.As(err, &re) {
			return nil, re
		}
		var te *txError
		if errors.As(err, &te) {
			return nil, rpcErr(te.code, "%s", te.msg)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, rpcErr(CodeMiscError, "request cancelled")
		}
		return nil, rpcErr(CodeMiscError, "%s", err.Error())
	}
	return res, nil
}

// method describes one RPC: its parameter names (for named params and the
// usage line), how many are required, and the implementation.
type method struct {
	params   []string
	required int
	fn       func(ctx context.Context, n *Node, p params) (any, error)
}

func (m method) usage(name string) string {
	s := name
	for i, p := range m.params {
		if i >= m.required {
			p = "( " + p + " )"
		}
		s += " " + p
	}
	return s
}

// params are positional arguments; a missing one is nil.
type params []json.RawMessage

func (p params) has(i int) bool {
	return i < len(p) && len(p[i]) > 0 && string(p[i]) != "null"
}

func (p params) str(i int, name string) (string, error) {
	var s string
	if err := json.Unmarshal(p[i], &s); err != nil {
		return "", rpcErr(CodeTypeError, "JSON value of type %s for field %s is not of expected type string", jsonType(p[i]), name)
	}
	return s, nil
}

func (p params) int(i int, name string) (int64, error) {
	var v int64
	if err := json.Unmarshal(p[i], &v); err != nil {
		if isJSONInteger(p[i]) {
			return 0, rpcErr(CodeMiscError, "JSON integer out of range")
		}
		return 0, rpcErr(CodeTypeError, "JSON value of type %s for field %s is not of expected type number", jsonType(p[i]), name)
	}
	return v, nil
}

// int32 reads a count or height the way Core reads an `int`: a value that
// does not fit is refused with Core's error, before anything is sized by it.
func (p params) int32(i int, name string) (int32, error) {
	v, err := p.int(i, name)
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, rpcErr(CodeMiscError, "JSON integer out of range")
	}
	return int32(v), nil
}

// uint64 reads an unsigned 64-bit argument (Core's uint64_t), e.g.
// maxtries.
func (p params) uint64(i int, name string) (uint64, error) {
	var v uint64
	if err := json.Unmarshal(p[i], &v); err != nil {
		if isJSONInteger(p[i]) {
			return 0, rpcErr(CodeMiscError, "JSON integer out of range")
		}
		return 0, rpcErr(CodeTypeError, "JSON value of type %s for field %s is not of expected type number", jsonType(p[i]), name)
	}
	return v, nil
}

// isJSONInteger reports whether raw is an integer literal (of any size).
func isJSONInteger(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (p params) boolean(i int, name string) (bool, error) {
	var v bool
	if err := json.Unmarshal(p[i], &v); err != nil {
		return false, rpcErr(CodeTypeError, "JSON value of type %s for field %s is not of expected type bool", jsonType(p[i]), name)
	}
	return v, nil
}

// intOrBool reads Core's verbosity-style arguments (a number, or a bool
// meaning 1/0).
func (p params) intOrBool(i int, name string) (int64, error) {
	var b bool
	if json.Unmarshal(p[i], &b) == nil {
		if b {
			return 1, nil
		}
		return 0, nil
	}
	v, err := p.int32(i, name) // Core's int
	return int64(v), err
}

func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}
