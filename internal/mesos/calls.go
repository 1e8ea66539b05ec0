package mesos

import (
	"slices"
	"time"
)

// Pure call constructors. Each returns a complete Call value; none does I/O.

func fid(id FrameworkID) *FrameworkID { return &id }

// Subscribe returns a SUBSCRIBE call. If fi.ID is set (re-subscription after
// failover) the top-level framework_id is set to the same value, as the
// master requires.
func Subscribe(fi FrameworkInfo, suppressedRoles ...string) Call {
	c := Call{Type: CallSubscribe, Subscribe: &CallSubscribeBody{FrameworkInfo: fi, SuppressedRoles: slices.Clone(suppressedRoles)}}
	if fi.ID != nil && fi.ID.Value != "" {
		id := *fi.ID
		c.FrameworkID = &id
		c.Subscribe.FrameworkInfo.ID = &id
	} else {
		c.Subscribe.FrameworkInfo.ID = nil
	}
	return c
}

// Teardown returns a TEARDOWN call.
func Teardown(id FrameworkID) Call {
	return Call{Type: CallTeardown, FrameworkID: fid(id)}
}

// Launch returns an ACCEPT call launching tasks on offers (all from one
// agent); unused resources are refused for refuse (refuse < 0 leaves the
// master default).
func Launch(id FrameworkID, offers []OfferID, tasks []TaskInfo, refuse time.Duration) Call {
	c := Call{Type: CallAccept, FrameworkID: fid(id), Accept: &CallAcceptBody{OfferIDs: slices.Clone(offers)}}
	if len(tasks) > 0 {
		c.Accept.Operations = []Operation{{Type: OpLaunch, Launch: &OperationLaunch{TaskInfos: slices.Clone(tasks)}}}
	}
	if refuse >= 0 {
		c.Accept.Filters = NewFilters(refuse)
	}
	return c
}

// Accept returns an ACCEPT call with arbitrary operations.
func Accept(id FrameworkID, offers []OfferID, ops []Operation, refuse time.Duration) Call {
	c := Call{Type: CallAccept, FrameworkID: fid(id), Accept: &CallAcceptBody{OfferIDs: slices.Clone(offers), Operations: slices.Clone(ops)}}
	if refuse >= 0 {
		c.Accept.Filters = NewFilters(refuse)
	}
	return c
}

// Decline returns a DECLINE call refusing the offers' resources for refuse
// (refuse < 0 leaves the master default of 5 s; 0 sets no filter).
func Decline(id FrameworkID, offers []OfferID, refuse time.Duration) Call {
	c := Call{Type: CallDecline, FrameworkID: fid(id), Decline: &CallDeclineBody{OfferIDs: slices.Clone(offers)}}
	if refuse >= 0 {
		c.Decline.Filters = NewFilters(refuse)
	}
	return c
}

// AcceptInverseOffers returns an ACCEPT_INVERSE_OFFERS call.
func AcceptInverseOffers(id FrameworkID, ids []OfferID) Call {
	return Call{Type: CallAcceptInverseOffers, FrameworkID: fid(id), AcceptInverseOffers: &CallInverseOffersBody{InverseOfferIDs: slices.Clone(ids)}}
}

// DeclineInverseOffers returns a DECLINE_INVERSE_OFFERS call.
func DeclineInverseOffers(id FrameworkID, ids []OfferID, refuse time.Duration) Call {
	c := Call{Type: CallDeclineInverseOffers, FrameworkID: fid(id), DeclineInverseOffers: &CallInverseOffersBody{InverseOfferIDs: slices.Clone(ids)}}
	if refuse >= 0 {
		c.DeclineInverseOffers.Filters = NewFilters(refuse)
	}
	return c
}

// Revive returns a REVIVE call for roles (none = all subscribed roles).
func Revive(id FrameworkID, roles ...string) Call {
	return Call{Type: CallRevive, FrameworkID: fid(id), Revive: &CallRolesBody{Roles: slices.Clone(roles)}}
}

// Suppress returns a SUPPRESS call for roles (none = all subscribed roles).
func Suppress(id FrameworkID, roles ...string) Call {
	return Call{Type: CallSuppress, FrameworkID: fid(id), Suppress: &CallRolesBody{Roles: slices.Clone(roles)}}
}

// Kill returns a KILL call. agent may be empty; kp may be nil.
func Kill(id FrameworkID, task TaskID, agent AgentID, kp *KillPolicy) Call {
	c := Call{Type: CallKill, FrameworkID: fid(id), Kill: &CallKillBody{TaskID: task, KillPolicy: kp}}
	if agent.Value != "" {
		c.Kill.AgentID = &agent
	}
	return c
}

// Shutdown returns a SHUTDOWN call for a custom executor.
func Shutdown(id FrameworkID, executor ExecutorID, agent AgentID) Call {
	return Call{Type: CallShutdown, FrameworkID: fid(id), Shutdown: &CallShutdownBody{ExecutorID: executor, AgentID: agent}}
}

// Acknowledge returns the ACKNOWLEDGE call for a status update, and false if
// the update carries no uuid (or no agent id) and so must not be acknowledged.
func Acknowledge(id FrameworkID, st TaskStatus) (Call, bool) {
	if len(st.UUID) == 0 || st.AgentID == nil {
		return Call{}, false
	}
	return Call{Type: CallAcknowledge, FrameworkID: fid(id), Acknowledge: &CallAcknowledgeBody{
		AgentID: *st.AgentID, TaskID: st.TaskID, UUID: slices.Clone(st.UUID),
	}}, true
}

// AcknowledgeOperationStatus returns the ACKNOWLEDGE_OPERATION_STATUS call
// for an operation status, and false if it carries no uuid.
func AcknowledgeOperationStatus(id FrameworkID, st OperationStatus) (Call, bool) {
	if st.UUID == nil || len(st.UUID.Value) == 0 || st.OperationID == nil {
		return Call{}, false
	}
	return Call{Type: CallAcknowledgeOperationStatus, FrameworkID: fid(id), AcknowledgeOperationStatus: &CallAckOperationStatusBody{
		AgentID: st.AgentID, ResourceProviderID: st.ResourceProviderID, UUID: slices.Clone(st.UUID.Value), OperationID: *st.OperationID,
	}}, true
}

// Reconcile returns a RECONCILE call; no tasks means implicit
// reconciliation (the body is still sent, as "reconcile":{}).
func Reconcile(id FrameworkID, tasks ...ReconcileTask) Call {
	return Call{Type: CallReconcile, FrameworkID: fid(id), Reconcile: &CallReconcileBody{Tasks: slices.Clone(tasks)}}
}

// ReconcileOperations returns a RECONCILE_OPERATIONS call.
func ReconcileOperations(id FrameworkID, ops ...ReconcileOperation) Call {
	return Call{Type: CallReconcileOperations, FrameworkID: fid(id), ReconcileOperations: &CallReconcileOperationsBody{Operations: slices.Clone(ops)}}
}

// Message returns a MESSAGE call to an executor.
func Message(id FrameworkID, agent AgentID, executor ExecutorID, data []byte) Call {
	return Call{Type: CallMessage, FrameworkID: fid(id), Message: &CallMessageBody{AgentID: agent, ExecutorID: executor, Data: slices.Clone(data)}}
}

// RequestResources returns a REQUEST call.
func RequestResources(id FrameworkID, reqs ...Request) Call {
	return Call{Type: CallRequest, FrameworkID: fid(id), Request: &CallRequestBody{Requests: slices.Clone(reqs)}}
}

// UpdateFramework returns an UPDATE_FRAMEWORK call; fi.ID is forced to id.
func UpdateFramework(id FrameworkID, fi FrameworkInfo, suppressedRoles ...string) Call {
	fi.ID = fid(id)
	return Call{Type: CallUpdateFramework, FrameworkID: fid(id), UpdateFramework: &CallUpdateFrameworkBody{FrameworkInfo: fi, SuppressedRoles: slices.Clone(suppressedRoles)}}
}
