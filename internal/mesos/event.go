package mesos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// EventType enumerates mesos.v1.scheduler.Event.Type.
type EventType string

// Event types (§1.7 of the API reference).
const (
	EventUnknown               EventType = "UNKNOWN"
	EventSubscribed            EventType = "SUBSCRIBED"
	EventOffers                EventType = "OFFERS"
	EventInverseOffers         EventType = "INVERSE_OFFERS"
	EventRescind               EventType = "RESCIND"
	EventRescindInverseOffer   EventType = "RESCIND_INVERSE_OFFER"
	EventUpdate                EventType = "UPDATE"
	EventUpdateOperationStatus EventType = "UPDATE_OPERATION_STATUS"
	EventMessage               EventType = "MESSAGE"
	EventFailure               EventType = "FAILURE"
	EventError                 EventType = "ERROR"
	EventHeartbeat             EventType = "HEARTBEAT"
)

// Event is a scheduler event; exactly the sub-message matching Type is set.
type Event struct {
	Type                  EventType                 `json:"type"`
	Subscribed            *EventSubscribedBody      `json:"subscribed,omitempty"`
	Offers                *EventOffersBody          `json:"offers,omitempty"`
	InverseOffers         *EventInverseOffersBody   `json:"inverse_offers,omitempty"`
	Rescind               *EventRescindBody         `json:"rescind,omitempty"`
	RescindInverseOffer   *EventRescindInverseBody  `json:"rescind_inverse_offer,omitempty"`
	Update                *EventUpdateBody          `json:"update,omitempty"`
	UpdateOperationStatus *EventUpdateOperationBody `json:"update_operation_status,omitempty"`
	Message               *EventMessageBody         `json:"message,omitempty"`
	Failure               *EventFailureBody         `json:"failure,omitempty"`
	Error                 *EventErrorBody           `json:"error,omitempty"`
}

// EventSubscribedBody is Event.Subscribed.
type EventSubscribedBody struct {
	FrameworkID              FrameworkID `json:"framework_id"`
	HeartbeatIntervalSeconds float64     `json:"heartbeat_interval_seconds,omitempty"`
	MasterInfo               *MasterInfo `json:"master_info,omitempty"`
}

// HeartbeatInterval returns the heartbeat interval, 15 s when unset.
func (s *EventSubscribedBody) HeartbeatInterval() time.Duration {
	if s.HeartbeatIntervalSeconds <= 0 {
		return 15 * time.Second
	}
	return time.Duration(s.HeartbeatIntervalSeconds * float64(time.Second))
}

// EventOffersBody is Event.Offers.
type EventOffersBody struct {
	Offers []Offer `json:"offers,omitempty"`
}

// EventInverseOffersBody is Event.InverseOffers.
type EventInverseOffersBody struct {
	InverseOffers []InverseOffer `json:"inverse_offers,omitempty"`
}

// EventRescindBody is Event.Rescind.
type EventRescindBody struct {
	OfferID OfferID `json:"offer_id"`
}

// EventRescindInverseBody is Event.RescindInverseOffer.
type EventRescindInverseBody struct {
	InverseOfferID OfferID `json:"inverse_offer_id"`
}

// EventUpdateBody is Event.Update.
type EventUpdateBody struct {
	Status TaskStatus `json:"status"`
}

// EventUpdateOperationBody is Event.UpdateOperationStatus.
type EventUpdateOperationBody struct {
	Status OperationStatus `json:"status"`
}

// EventMessageBody is Event.Message.
type EventMessageBody struct {
	AgentID    AgentID    `json:"agent_id"`
	ExecutorID ExecutorID `json:"executor_id"`
	Data       []byte     `json:"data"`
}

// EventFailureBody is Event.Failure: an agent was removed (no executor id)
// or an executor terminated (Status = its exit status).
type EventFailureBody struct {
	AgentID    *AgentID    `json:"agent_id,omitempty"`
	ExecutorID *ExecutorID `json:"executor_id,omitempty"`
	Status     *int32      `json:"status,omitempty"`
}

// EventErrorBody is Event.Error.
type EventErrorBody struct {
	Message string `json:"message"`
}

// ErrMalformedEvent is wrapped by Decoder errors for records that are not a
// valid Event.
var ErrMalformedEvent = errors.New("mesos: malformed event")

// Validate checks the fields the client relies on: a known non-empty type
// and the sub-message it requires.
func (e *Event) Validate() error {
	missing := func(f string) error { return fmt.Errorf("%w: %s event without %q", ErrMalformedEvent, e.Type, f) }
	switch e.Type {
	case "":
		return fmt.Errorf("%w: no type", ErrMalformedEvent)
	case EventSubscribed:
		if e.Subscribed == nil || e.Subscribed.FrameworkID.Value == "" {
			return missing("subscribed.framework_id")
		}
	case EventOffers:
		if e.Offers == nil {
			return missing("offers")
		}
	case EventInverseOffers:
		if e.InverseOffers == nil {
			return missing("inverse_offers")
		}
	case EventRescind:
		if e.Rescind == nil {
			return missing("rescind")
		}
	case EventRescindInverseOffer:
		if e.RescindInverseOffer == nil {
			return missing("rescind_inverse_offer")
		}
	case EventUpdate:
		if e.Update == nil || e.Update.Status.TaskID.Value == "" || e.Update.Status.State == "" {
			return missing("update.status")
		}
	case EventUpdateOperationStatus:
		if e.UpdateOperationStatus == nil {
			return missing("update_operation_status")
		}
	case EventMessage:
		if e.Message == nil {
			return missing("message")
		}
	case EventFailure:
		if e.Failure == nil {
			return missing("failure")
		}
	case EventError:
		if e.Error == nil {
			return missing("error")
		}
	}
	return nil
}

// Decoder reads RecordIO-framed JSON events from a SUBSCRIBE stream.
// It is not safe for concurrent use.
type Decoder struct {
	r *Reader
}

// NewDecoder returns a Decoder reading frames of at most maxFrame bytes
// (DefaultMaxFrameSize when <= 0).
func NewDecoder(r io.Reader, maxFrame int) *Decoder {
	return &Decoder{r: NewReader(r, maxFrame)}
}

// Decode reads the next event. It returns io.EOF at a clean end of
// stream, a framing error (see Reader), or an error wrapping
// ErrMalformedEvent for a record that is not a valid event. Events of
// unknown type are returned without error so callers can skip them.
func (d *Decoder) Decode(e *Event) error {
	rec, err := d.r.ReadFrame()
	if err != nil {
		return err
	}
	return DecodeEvent(rec, e)
}

// DecodeEvent decodes one JSON event record into e and validates it.
func DecodeEvent(rec []byte, e *Event) error {
	*e = Event{}
	if err := json.Unmarshal(rec, e); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	return e.Validate()
}

// Encoder writes events (or any JSON value) as RecordIO frames; the
// server side of a SUBSCRIBE stream uses it.
type Encoder struct {
	w *Writer
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: NewWriter(w)} }

// Encode marshals v as compact JSON and writes it as one frame.
func (e *Encoder) Encode(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("mesos: encode event: %w", err)
	}
	return e.w.WriteFrame(b)
}
