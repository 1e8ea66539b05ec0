package master

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// This file converts a JSON call into a mesos.Call the way Mesos's
// JSON-to-protobuf conversion does (stout's protobuf::parse, used by the
// master's HTTP handler), not the way encoding/json does:
//   - keys match field names exactly (encoding/json folds case: "TYPE" would
//     set type); unknown keys and nulls are ignored;
//   - an unknown name of an optional enum leaves the field unset (a list
//     drops it); of a required enum it is an error;
//   - a string is accepted for a number ("5", "Infinity") or a boolean
//     ("true"), a single value where a list is expected is a list of one;
//   - bytes are base64;
//   - every required field of the proto messages, at any depth, must be
//     present: "Missing required fields: a.b[0].c, …".

// protoField describes one proto field that the Go type alone does not:
// whether it is required, and the names of a plain-string enum.
type protoField struct {
	required bool
	enum     []string
}

var (
	req        = protoField{required: true}
	idRequired = map[string]protoField{"value": req}
)

// protoRules lists, per Go message type reachable from a Call, the fields
// that are required in mesos/v1/mesos.proto and scheduler.proto, and the
// plain-string fields that are enums there.
var protoRules = map[reflect.Type]map[string]protoField{
	reflect.TypeFor[mesos.FrameworkID]():                idRequired,
	reflect.TypeFor[mesos.OfferID]():                    idRequired,
	reflect.TypeFor[mesos.AgentID]():                    idRequired,
	reflect.TypeFor[mesos.TaskID]():                     idRequired,
	reflect.TypeFor[mesos.ExecutorID]():                 idRequired,
	reflect.TypeFor[mesos.ContainerID]():                idRequired,
	reflect.TypeFor[mesos.ResourceProviderID]():         idRequired,
	reflect.TypeFor[mesos.OperationID]():                idRequired,
	reflect.TypeFor[mesos.UUID]():                       idRequired,
	reflect.TypeFor[mesos.ValueScalar]():                idRequired,
	reflect.TypeFor[mesos.ValueText]():                  idRequired,
	reflect.TypeFor[mesos.CommandURI]():                 idRequired,
	reflect.TypeFor[mesos.DurationInfo]():               {"nanoseconds": req},
	reflect.TypeFor[mesos.TimeInfo]():                   {"nanoseconds": req},
	reflect.TypeFor[mesos.Address]():                    {"port": req},
	reflect.TypeFor[mesos.URL]():                        {"scheme": req, "address": req},
	reflect.TypeFor[mesos.Label]():                      {"key": req},
	reflect.TypeFor[mesos.Parameter]():                  {"key": req, "value": req},
	reflect.TypeFor[mesos.FrameworkInfo]():              {"user": req, "name": req},
	reflect.TypeFor[mesos.ValueRange]():                 {"begin": req, "end": req},
	reflect.TypeFor[mesos.Resource]():                   {"name": req, "type": req},
	reflect.TypeFor[mesos.Attribute]():                  {"name": req, "type": req},
	reflect.TypeFor[mesos.Unavailability]():             {"start": req},
	reflect.TypeFor[mesos.TaskInfo]():                   {"name": req, "task_id": req, "agent_id": req},
	reflect.TypeFor[mesos.ExecutorInfo]():               {"executor_id": req, "type": {enum: []string{"UNKNOWN", "DEFAULT", "CUSTOM"}}},
	reflect.TypeFor[mesos.EnvVariable]():                {"name": req},
	reflect.TypeFor[mesos.SecretReference]():            {"name": req},
	reflect.TypeFor[mesos.SecretValue]():                {"data": req},
	reflect.TypeFor[mesos.Secret]():                     {"type": {enum: []string{"UNKNOWN", "REFERENCE", "VALUE"}}},
	reflect.TypeFor[mesos.DockerImage]():                {"name": req},
	reflect.TypeFor[mesos.Image]():                      {"type": {required: true, enum: []string{"APPC", "DOCKER"}}},
	reflect.TypeFor[mesos.Volume]():                     {"container_path": req, "mode": {required: true, enum: []string{"RW", "RO"}}},
	reflect.TypeFor[mesos.PortMapping]():                {"host_port": req, "container_port": req},
	reflect.TypeFor[mesos.DockerInfo]():                 {"image": req},
	reflect.TypeFor[mesos.ContainerInfo]():              {"type": req},
	reflect.TypeFor[mesos.HTTPCheckInfo]():              {"port": req},
	reflect.TypeFor[mesos.TCPCheckInfo]():               {"port": req},
	reflect.TypeFor[mesos.ReservationInfo]():            {"type": {enum: []string{"UNKNOWN", "STATIC", "DYNAMIC"}}},
	reflect.TypeFor[mesos.IPAddress]():                  {"protocol": {enum: []string{"IPv4", "IPv6"}}},
	reflect.TypeFor[mesos.OperationLaunchGroup]():       {"executor": req, "task_group": req},
	reflect.TypeFor[mesos.CallSubscribeBody]():          {"framework_info": req},
	reflect.TypeFor[mesos.CallUpdateFrameworkBody]():    {"framework_info": req},
	reflect.TypeFor[mesos.CallKillBody]():               {"task_id": req},
	reflect.TypeFor[mesos.CallShutdownBody]():           {"executor_id": req, "agent_id": req},
	reflect.TypeFor[mesos.CallAcknowledgeBody]():        {"agent_id": req, "task_id": req, "uuid": req},
	reflect.TypeFor[mesos.CallAckOperationStatusBody](): {"uuid": req, "operation_id": req},
	reflect.TypeFor[mesos.ReconcileTask]():              {"task_id": req},
	reflect.TypeFor[mesos.ReconcileOperation]():         {"operation_id": req},
	reflect.TypeFor[mesos.CallMessageBody]():            {"agent_id": req, "executor_id": req, "data": req},
}

// protoEnums lists the names of the enums that have their own Go type.
var protoEnums = map[reflect.Type][]string{
	reflect.TypeFor[mesos.CallType](): {"UNKNOWN", "SUBSCRIBE", "TEARDOWN", "ACCEPT", "DECLINE", "ACCEPT_INVERSE_OFFERS",
		"DECLINE_INVERSE_OFFERS", "REVIVE", "KILL", "SHUTDOWN", "ACKNOWLEDGE", "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE",
		"RECONCILE_OPERATIONS", "MESSAGE", "REQUEST", "SUPPRESS", "UPDATE_FRAMEWORK"},
	reflect.TypeFor[mesos.FrameworkCapabilityType](): {"UNKNOWN", "REVOCABLE_RESOURCES", "TASK_KILLING_STATE",
		"GPU_RESOURCES", "SHARED_RESOURCES", "PARTITION_AWARE", "MULTI_ROLE", "RESERVATION_REFINEMENT", "REGION_AWARE"},
	reflect.TypeFor[mesos.ValueType](): {"SCALAR", "RANGES", "SET", "TEXT"},
	reflect.TypeFor[mesos.OperationType](): {"UNKNOWN", "LAUNCH", "LAUNCH_GROUP", "RESERVE", "UNRESERVE", "CREATE",
		"DESTROY", "GROW_VOLUME", "SHRINK_VOLUME", "CREATE_DISK", "DESTROY_DISK"},
	reflect.TypeFor[mesos.EnvVariableType](): {"UNKNOWN", "VALUE", "SECRET"},
	reflect.TypeFor[mesos.ContainerType]():   {"DOCKER", "MESOS"},
	reflect.TypeFor[mesos.DockerNetwork]():   {"HOST", "BRIDGE", "NONE", "USER"},
	reflect.TypeFor[mesos.HealthCheckType](): {"UNKNOWN", "COMMAND", "HTTP", "TCP"},
}

var rawJSONType = reflect.TypeFor[mesos.RawJSON]()

// jsonFields maps a struct type's JSON names to field indexes.
var jsonFields sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := jsonFields.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	jsonFields.Store(t, m)
	return m
}

// decodeProto decodes body into msg (a pointer to a message struct) with
// Mesos's conversion rules. Errors read like Mesos's, without the
// "Failed to convert JSON into Call protobuf: " prefix.
func decodeProto(body []byte, msg any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("Expecting a JSON object")
	}
	rv := reflect.ValueOf(msg).Elem()
	if err := decodeMessage(obj, rv); err != nil {
		return err
	}
	var missing []string
	missingFields(obj, rv.Type(), "", &missing)
	if len(missing) > 0 {
		return fmt.Errorf("Missing required fields: %s", strings.Join(missing, ", "))
	}
	return nil
}

// decodeMessage sets rv's fields from obj, in key order as Mesos does.
func decodeMessage(obj map[string]any, rv reflect.Value) error {
	t := rv.Type()
	fields := fieldsOf(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i, ok := fields[k]
		if !ok || obj[k] == nil {
			continue
		}
		if err := decodeField(obj[k], rv.Field(i), k, protoRules[t][k]); err != nil {
			return err
		}
	}
	return nil
}

func kindName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

func notExpecting(v any, name string) error {
	return fmt.Errorf("Not expecting a JSON %s for field '%s'", kindName(v), name)
}

// decodeField sets the field f (named name) from v.
func decodeField(v any, f reflect.Value, name string, rule protoField) error {
	t := f.Type()
	switch {
	case t == rawJSONType:
		b, _ := json.Marshal(v)
		f.SetBytes(b)
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return decodeBytes(v, f, name)
	case t.Kind() == reflect.Slice:
		items, isList := v.([]any)
		if !isList {
			items = []any{v}
		}
		for _, it := range items {
			if it == nil {
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			set, err := decodeScalarOrMessage(it, e, name, rule)
			if err != nil {
				return err
			}
			if set {
				f.Set(reflect.Append(f, e))
			}
		}
		return nil
	}
	if _, isList := v.([]any); isList {
		return fmt.Errorf("Not expecting a JSON array for field '%s'", name)
	}
	_, err := decodeScalarOrMessage(v, f, name, rule)
	return err
}

// decodeScalarOrMessage sets f from a non-list value; set is false when an
// unknown optional enum name left it unset.
func decodeScalarOrMessage(v any, f reflect.Value, name string, rule protoField) (set bool, err error) {
	if f.Kind() == reflect.Pointer {
		p := reflect.New(f.Type().Elem())
		if set, err = decodeScalarOrMessage(v, p.Elem(), name, rule); set && err == nil {
			f.Set(p)
		}
		return set, err
	}
	if _, isList := v.([]any); isList {
		return false, fmt.Errorf("Not expecting a JSON array for field '%s'", name)
	}
	switch f.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return false, notExpecting(v, name)
		}
		return true, decodeMessage(obj, f)
	case reflect.String:
		return decodeString(v, f, name, rule)
	case reflect.Bool:
		return true, decodeBool(v, f, name)
	case reflect.Float32, reflect.Float64:
		x, err := numberOf(v, name, true)
		f.SetFloat(x)
		return err == nil, err
	case reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return true, decodeInt(v, f, name)
	}
	return false, fmt.Errorf("field '%s': unsupported type %s", name, f.Type())
}

func decodeString(v any, f reflect.Value, name string, rule protoField) (bool, error) {
	s, ok := v.(string)
	if !ok {
		return false, notExpecting(v, name)
	}
	enum, isEnum := protoEnums[f.Type()]
	if rule.enum != nil {
		enum, isEnum = rule.enum, true
	}
	if isEnum && !slices.Contains(enum, s) {
		if rule.required {
			return false, fmt.Errorf("Failed to find enum for '%s'", s)
		}
		return false, nil
	}
	f.SetString(s)
	return true, nil
}

func decodeBool(v any, f reflect.Value, name string) error {
	switch b := v.(type) {
	case bool:
		f.SetBool(b)
		return nil
	case string:
		if b != "true" && b != "false" {
			return fmt.Errorf("Failed to parse '%s' as a JSON boolean for field '%s'", b, name)
		}
		f.SetBool(b == "true")
		return nil
	}
	return notExpecting(v, name)
}

// jsonNumber is the grammar of a JSON number.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// numberOf reads a JSON number, or a string holding one ("Infinity" and
// "-Infinity" too where float is set). Out-of-range numbers become ±Inf.
func numberOf(v any, name string, float bool) (float64, error) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		switch {
		case float && n == "Infinity":
			return math.Inf(1), nil
		case float && n == "-Infinity":
			return math.Inf(-1), nil
		case !jsonNumber.MatchString(n):
			return 0, fmt.Errorf("Failed to parse '%s' as a JSON number for field '%s'", n, name)
		}
		s = n
	default:
		return 0, notExpecting(v, name)
	}
	x, _ := strconv.ParseFloat(s, 64) // the grammar was checked; a range error gives ±Inf
	return x, nil
}

func decodeInt(v any, f reflect.Value, name string) error {
	s := ""
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		s = n
	}
	if f.Kind() == reflect.Uint32 || f.Kind() == reflect.Uint64 {
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			f.SetUint(u)
			return nil
		}
	} else if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		f.SetInt(i)
		return nil
	}
	x, err := numberOf(v, name, false)
	if err != nil {
		return err
	}
	// A fraction is truncated, as Mesos's JSON::Number::as<T> does.
	if f.Kind() == reflect.Uint32 || f.Kind() == reflect.Uint64 {
		f.SetUint(uint64(max(x, 0)))
	} else {
		f.SetInt(int64(x))
	}
	return nil
}

func decodeBytes(v any, f reflect.Value, name string) error {
	s, ok := v.(string)
	if !ok {
		if _, isList := v.([]any); isList {
			return fmt.Errorf("Not expecting a JSON array for field '%s'", name)
		}
		return notExpecting(v, name)
	}
	for _, c := range s {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", c) {
			return fmt.Errorf("Failed to base64 decode bytes field '%s': Invalid character '%c'", name, c)
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil {
		return fmt.Errorf("Failed to base64 decode bytes field '%s': %v", name, err)
	}
	f.SetBytes(b)
	return nil
}

// missingFields appends the paths of required fields absent from obj (a
// message of type t) and, after them, of its sub-messages in field order,
// as protobuf's InitializationErrorString lists them.
func missingFields(obj map[string]any, t reflect.Type, prefix string, out *[]string) {
	rules := protoRules[t]
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if rules[name].required && obj[name] == nil {
			*out = append(*out, prefix+name)
		}
	}
	for i := range t.NumField() {
		ft := t.Field(i).Type
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		v := obj[name]
		if v == nil || ft == rawJSONType {
			continue
		}
		isList := ft.Kind() == reflect.Slice
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct {
			continue
		}
		if !isList {
			if m, ok := v.(map[string]any); ok {
				missingFields(m, ft, prefix+name+".", out)
			}
			continue
		}
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		n := 0
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				missingFields(m, ft, fmt.Sprintf("%s%s[%d].", prefix, name, n), out)
				n++
			}
		}
	}
}
