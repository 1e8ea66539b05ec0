package mesos

// CallType enumerates mesos.v1.scheduler.Call.Type.
type CallType string

// Call types (§1.6 of the API reference).
const (
	CallUnknown                    CallType = "UNKNOWN"
	CallSubscribe                  CallType = "SUBSCRIBE"
	CallTeardown                   CallType = "TEARDOWN"
	CallAccept                     CallType = "ACCEPT"
	CallDecline                    CallType = "DECLINE"
	CallAcceptInverseOffers        CallType = "ACCEPT_INVERSE_OFFERS"
	CallDeclineInverseOffers       CallType = "DECLINE_INVERSE_OFFERS"
	CallRevive                     CallType = "REVIVE"
	CallKill                       CallType = "KILL"
	CallShutdown                   CallType = "SHUTDOWN"
	CallAcknowledge                CallType = "ACKNOWLEDGE"
	CallAcknowledgeOperationStatus CallType = "ACKNOWLEDGE_OPERATION_STATUS"
	CallReconcile                  CallType = "RECONCILE"
	CallReconcileOperations        CallType = "RECONCILE_OPERATIONS"
	CallMessage                    CallType = "MESSAGE"
	CallRequest                    CallType = "REQUEST"
	CallSuppress                   CallType = "SUPPRESS"
	CallUpdateFramework            CallType = "UPDATE_FRAMEWORK"
)

// Call is a scheduler call. FrameworkID is required on every call except
// SUBSCRIBE; exactly the sub-message matching Type is set.
type Call struct {
	FrameworkID                *FrameworkID                 `json:"framework_id,omitempty"`
	Type                       CallType                     `json:"type"`
	Subscribe                  *CallSubscribeBody           `json:"subscribe,omitempty"`
	Accept                     *CallAcceptBody              `json:"accept,omitempty"`
	Decline                    *CallDeclineBody             `json:"decline,omitempty"`
	AcceptInverseOffers        *CallInverseOffersBody       `json:"accept_inverse_offers,omitempty"`
	DeclineInverseOffers       *CallInverseOffersBody       `json:"decline_inverse_offers,omitempty"`
	Revive                     *CallRolesBody               `json:"revive,omitempty"`
	Kill                       *CallKillBody                `json:"kill,omitempty"`
	Shutdown                   *CallShutdownBody            `json:"shutdown,omitempty"`
	Acknowledge                *CallAcknowledgeBody         `json:"acknowledge,omitempty"`
	AcknowledgeOperationStatus *CallAckOperationStatusBody  `json:"acknowledge_operation_status,omitempty"`
	Reconcile                  *CallReconcileBody           `json:"reconcile,omitempty"`
	ReconcileOperations        *CallReconcileOperationsBody `json:"reconcile_operations,omitempty"`
	Message                    *CallMessageBody             `json:"message,omitempty"`
	Request                    *CallRequestBody             `json:"request,omitempty"`
	Suppress                   *CallRolesBody               `json:"suppress,omitempty"`
	UpdateFramework            *CallUpdateFrameworkBody     `json:"update_framework,omitempty"`
}

// CallSubscribeBody is Call.Subscribe.
type CallSubscribeBody struct {
	FrameworkInfo    FrameworkInfo `json:"framework_info"`
	SuppressedRoles  []string      `json:"suppressed_roles,omitempty"`
	OfferConstraints RawJSON       `json:"offer_constraints,omitempty"`
}

// CallAcceptBody is Call.Accept.
type CallAcceptBody struct {
	OfferIDs   []OfferID   `json:"offer_ids"`
	Operations []Operation `json:"operations,omitempty"`
	Filters    *Filters    `json:"filters,omitempty"`
}

// CallDeclineBody is Call.Decline.
type CallDeclineBody struct {
	OfferIDs []OfferID `json:"offer_ids"`
	Filters  *Filters  `json:"filters,omitempty"`
}

// CallInverseOffersBody is Call.AcceptInverseOffers / DeclineInverseOffers.
type CallInverseOffersBody struct {
	InverseOfferIDs []OfferID `json:"inverse_offer_ids"`
	Filters         *Filters  `json:"filters,omitempty"`
}

// CallRolesBody is Call.Revive / Call.Suppress; no roles means all roles.
type CallRolesBody struct {
	Roles []string `json:"roles,omitempty"`
}

// CallKillBody is Call.Kill.
type CallKillBody struct {
	TaskID     TaskID      `json:"task_id"`
	AgentID    *AgentID    `json:"agent_id,omitempty"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty"`
}

// CallShutdownBody is Call.Shutdown.
type CallShutdownBody struct {
	ExecutorID ExecutorID `json:"executor_id"`
	AgentID    AgentID    `json:"agent_id"`
}

// CallAcknowledgeBody is Call.Acknowledge; UUID is the 16 raw bytes of the
// status update's uuid.
type CallAcknowledgeBody struct {
	AgentID AgentID `json:"agent_id"`
	TaskID  TaskID  `json:"task_id"`
	UUID    []byte  `json:"uuid"`
}

// CallAckOperationStatusBody is Call.AcknowledgeOperationStatus.
type CallAckOperationStatusBody struct {
	AgentID            *AgentID            `json:"agent_id,omitempty"`
	ResourceProviderID *ResourceProviderID `json:"resource_provider_id,omitempty"`
	UUID               []byte              `json:"uuid"`
	OperationID        OperationID         `json:"operation_id"`
}

// ReconcileTask is one task of an explicit reconciliation.
type ReconcileTask struct {
	TaskID  TaskID   `json:"task_id"`
	AgentID *AgentID `json:"agent_id,omitempty"`
}

// CallReconcileBody is Call.Reconcile; no tasks means implicit
// reconciliation. The body must be present (encoded as {}) even then.
type CallReconcileBody struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"`
}

// ReconcileOperation is one operation of RECONCILE_OPERATIONS.
type ReconcileOperation struct {
	OperationID        OperationID         `json:"operation_id"`
	AgentID            *AgentID            `json:"agent_id,omitempty"`
	ResourceProviderID *ResourceProviderID `json:"resource_provider_id,omitempty"`
}

// CallReconcileOperationsBody is Call.ReconcileOperations.
type CallReconcileOperationsBody struct {
	Operations []ReconcileOperation `json:"operations,omitempty"`
}

// CallMessageBody is Call.Message.
type CallMessageBody struct {
	AgentID    AgentID    `json:"agent_id"`
	ExecutorID ExecutorID `json:"executor_id"`
	Data       []byte     `json:"data"`
}

// Request is one resource request (ignored by the built-in allocator).
type Request struct {
	AgentID   *AgentID   `json:"agent_id,omitempty"`
	Resources []Resource `json:"resources,omitempty"`
}

// CallRequestBody is Call.Request.
type CallRequestBody struct {
	Requests []Request `json:"requests,omitempty"`
}

// CallUpdateFrameworkBody is Call.UpdateFramework.
type CallUpdateFrameworkBody struct {
	FrameworkInfo    FrameworkInfo `json:"framework_info"`
	SuppressedRoles  []string      `json:"suppressed_roles,omitempty"`
	OfferConstraints RawJSON       `json:"offer_constraints,omitempty"`
}
