package loadgen

// NotifyPrevHash exposes notifyPrevHash to the external tests.
var NotifyPrevHash = notifyPrevHash
