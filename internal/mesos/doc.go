// Package mesos speaks the Mesos v1 scheduler HTTP API: a hand-written
// subset of the JSON message types (field names in snake_case, enums as
// their symbolic names, bytes as standard base64, exactly as Mesos's stout
// JSON mapping writes them), RecordIO framing with a frame size limit, pure
// call constructors, an HTTP client for the SUBSCRIBE stream and the other
// calls, and master leader detection from ZooKeeper.
//
// The package is a leaf: it imports no other internal package. Both the
// scheduler (client side) and the embedded master (server side) build on
// these types, so the types carry no client behaviour.
//
// Values of the message types are plain data and are not safe for
// concurrent mutation; copy them before sharing.
package mesos
