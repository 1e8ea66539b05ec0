package stratum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Method names of Stratum v1 and its common extensions (BIP310, NiceHash).
const (
	MethodSubscribe            = "mining.subscribe"
	MethodAuthorize            = "mining.authorize"
	MethodSetDifficulty        = "mining.set_difficulty"
	MethodNotify               = "mining.notify"
	MethodSubmit               = "mining.submit"
	MethodConfigure            = "mining.configure"
	MethodSetVersionMask       = "mining.set_version_mask"
	MethodExtranonceSubscribe  = "mining.extranonce.subscribe"
	MethodSetExtranonce        = "mining.set_extranonce"
	MethodSuggestDifficulty    = "mining.suggest_difficulty"
	MethodGetTransactions      = "mining.get_transactions"
	MethodPing                 = "mining.ping"
	MethodReconnect            = "client.reconnect"
	MethodGetVersion           = "client.get_version"
	MethodShowMessage          = "client.show_message"
	ExtensionVersionRolling    = "version-rolling"
	VersionRollingMaskKey      = "version-rolling.mask"
	VersionRollingMinBitsKey   = "version-rolling.min-bit-count"
	DefaultVersionRollingMask  = 0x1fffe000 // BIP320 general-purpose bits
	PongResult                 = "pong"
	defaultVersionRollingAllOn = 0xffffffff
)

// Stratum v1 error codes (slush's original document; used by public-pool,
// miningcore and NOMP). Error.Code holds one of these or any other integer a
// pool chose.
const (
	ErrOther         = 20 // other/unknown
	ErrJobNotFound   = 21 // job not found (stale)
	ErrDuplicate     = 22 // duplicate share
	ErrLowDifficulty = 23 // low difficulty share
	ErrUnauthorized  = 24 // unauthorized worker
	ErrNotSubscribed = 25 // not subscribed
)

// Sentinel errors. Decoding errors wrap one of them.
var (
	// ErrLineTooLong: a line exceeded MaxLineLen. The Reader skipped it.
	ErrLineTooLong = errors.New("stratum: line too long")
	// ErrMalformed: a line is not a valid Stratum JSON message. The Reader skipped it.
	ErrMalformed = errors.New("stratum: malformed message")
	// ErrInvalidParams: a method's params (or a result) do not have the required shape.
	ErrInvalidParams = errors.New("stratum: invalid params")
)

// Error is a Stratum error as carried in a response's "error" field. On the
// wire it is [code, message, traceback|null]. When decoding, the other
// shapes pools use are accepted too: a bare string (ckpool: code ErrOther)
// and a JSON-RPC 2.0 style {"code":..,"message":..} object.
type Error struct {
	Code      int
	Message   string
	Traceback string // empty encodes as null
}

// NewError returns an *Error with the given code and message.
func NewError(code int, msg string) *Error { return &Error{Code: code, Message: msg} }

func (e *Error) Error() string {
	return fmt.Sprintf("stratum: error %d: %s", e.Code, e.Message)
}

// MarshalJSON encodes e as [code, message, traceback|null].
func (e *Error) MarshalJSON() ([]byte, error) {
	var tb any
	if e.Traceback != "" {
		tb = e.Traceback
	}
	return json.Marshal([]any{e.Code, e.Message, tb})
}

// UnmarshalJSON accepts [code, msg, tb?], "msg" and {"code","message"}.
// Unknown shapes still decode, as ErrOther with the raw text as message, so
// that one odd pool cannot make a whole response undecodable.
func (e *Error) UnmarshalJSON(b []byte) error {
	*e = Error{Code: ErrOther}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil {
			return fmt.Errorf("%w: error array: %v", ErrMalformed, err)
		}
		if len(arr) > 0 {
			var code json.Number
			if json.Unmarshal(arr[0], &code) == nil {
				if c, err := strconv.Atoi(code.String()); err == nil {
					e.Code = c
				}
			}
		}
		if len(arr) > 1 {
			e.Message = looseString(arr[1])
		}
		if len(arr) > 2 && !isNull(arr[2]) {
			e.Traceback = looseString(arr[2])
		}
	case '"':
		_ = json.Unmarshal(b, &e.Message)
	case '{':
		var obj struct {
			Code    json.Number `json:"code"`
			Message string      `json:"message"`
		}
		if err := json.Unmarshal(b, &obj); err == nil {
			if c, err := strconv.Atoi(obj.Code.String()); err == nil {
				e.Code = c
			}
			e.Message = obj.Message
		} else {
			e.Message = string(b)
		}
	default:
		e.Message = string(b)
	}
	return nil
}

// looseString returns a JSON string's value, or the raw JSON text otherwise.
func looseString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// Message is any decoded Stratum line: a request (method and non-null id),
// a notification (method and null or absent id) or a response (no method).
// Reader.Read returns Messages; use Kind to tell them apart.
type Message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	// RejectReason is ckpool's non-standard "reject-reason" for shares
	// answered with result:false.
	RejectReason string `json:"reject-reason,omitempty"`
}

// Kind classifies a Message.
type Kind int

// Message kinds.
const (
	KindResponse Kind = iota
	KindRequest
	KindNotification
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	default:
		return "response"
	}
}

// Kind reports whether m is a request, a notification or a response.
func (m *Message) Kind() Kind {
	switch {
	case m.Method == "":
		return KindResponse
	case isNull(m.ID):
		return KindNotification
	default:
		return KindRequest
	}
}

// Request returns m as a Request (for KindRequest and KindNotification).
func (m *Message) Request() *Request {
	return &Request{ID: m.ID, Method: m.Method, Params: m.Params}
}

// Response returns m as a Response (for KindResponse).
func (m *Message) Response() *Response {
	return &Response{ID: m.ID, Result: m.Result, Error: m.Error, RejectReason: m.RejectReason}
}

// Request is a call or, with a null ID, a notification. Params is the raw
// JSON array; decode it with the typed params' UnmarshalJSON or the
// Decode* helpers.
type Request struct {
	ID     json.RawMessage // nil or "null" for a notification
	Method string
	Params json.RawMessage // nil encodes as []
}

// MarshalJSON encodes {"id":…,"method":…,"params":[…]}.
func (r *Request) MarshalJSON() ([]byte, error) {
	id := r.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	params := r.Params
	if len(params) == 0 {
		params = json.RawMessage("[]")
	}
	return json.Marshal(struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}{id, r.Method, params})
}

// Notification is a request with a null ID (server to client, usually).
type Notification = Request

// NewRequest builds a request with integer id. params is marshalled with
// encoding/json; typed params encode themselves as arrays, nil means [].
func NewRequest(id uint64, method string, params any) (*Request, error) {
	p, err := marshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("stratum: %s params: %w", method, err)
	}
	return &Request{ID: json.RawMessage(strconv.FormatUint(id, 10)), Method: method, Params: p}, nil
}

// NewNotification builds a notification (id null).
func NewNotification(method string, params any) (*Request, error) {
	p, err := marshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("stratum: %s params: %w", method, err)
	}
	return &Request{ID: json.RawMessage("null"), Method: method, Params: p}, nil
}

func marshalParams(params any) (json.RawMessage, error) {
	if params == nil {
		return json.RawMessage("[]"), nil
	}
	return json.Marshal(params)
}

// Response answers a request. Exactly one of Result (non-null) and Error
// is normally set; both "result" and "error" are always encoded.
type Response struct {
	ID           json.RawMessage
	Result       json.RawMessage // nil encodes as null
	Error        *Error
	RejectReason string // ckpool style; encoded only when non-empty
}

// MarshalJSON encodes {"id":…,"result":…,"error":…}.
func (r *Response) MarshalJSON() ([]byte, error) {
	id := r.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	res := r.Result
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	return json.Marshal(struct {
		ID           json.RawMessage `json:"id"`
		Result       json.RawMessage `json:"result"`
		Error        *Error          `json:"error"`
		RejectReason string          `json:"reject-reason,omitempty"`
	}{id, res, r.Error, r.RejectReason})
}

// NewResponse builds a successful response carrying result.
func NewResponse(id json.RawMessage, result any) (*Response, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("stratum: response result: %w", err)
	}
	return &Response{ID: id, Result: b}, nil
}

// NewErrorResponse builds a response with result null and the given error.
func NewErrorResponse(id json.RawMessage, e *Error) *Response {
	return &Response{ID: id, Error: e}
}

// Bool interprets a boolean reply (authorize, submit, extranonce.subscribe).
// It returns nil for result true. Otherwise it returns the *Error from the
// error field, or, for ckpool's result:false with no error, an *Error with
// code ErrOther and the reject-reason (or "rejected") as message. Any result
// other than true counts as a reject.
func (r *Response) Bool() error {
	if r.Error != nil {
		return r.Error
	}
	var ok bool
	if json.Unmarshal(r.Result, &ok) == nil && ok {
		return nil
	}
	msg := r.RejectReason
	if msg == "" {
		msg = "rejected"
	}
	return &Error{Code: ErrOther, Message: msg}
}

// IDUint returns the response id as an unsigned integer, as produced by
// NewRequest. ok is false for string, null or negative ids.
func (r *Response) IDUint() (uint64, bool) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(r.ID)), 10, 64)
	return n, err == nil
}

// Decode decodes r.Params into v, a pointer to one of the typed params
// (*Notify, *Submit, …). Missing params count as []. Errors wrap
// ErrInvalidParams.
func (r *Request) Decode(v any) error {
	raw := r.Params
	if isNull(raw) {
		raw = json.RawMessage("[]")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		if errors.Is(err, ErrInvalidParams) {
			return err
		}
		return &ParamError{Method: r.Method, Field: "params", Reason: err.Error()}
	}
	return nil
}

// Decode decodes r.Result into v (e.g. *SubscribeResult, *ConfigureResult,
// *bool). A null or missing result is an error wrapping ErrInvalidParams.
func (r *Response) Decode(v any) error {
	if isNull(r.Result) {
		return &ParamError{Method: "response", Field: "result", Reason: "null"}
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		if errors.Is(err, ErrInvalidParams) {
			return err
		}
		return &ParamError{Method: "response", Field: "result", Reason: err.Error()}
	}
	return nil
}
