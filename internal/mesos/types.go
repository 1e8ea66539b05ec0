package mesos

import (
	"encoding/json"
	"time"
)

// IDs. Each is a message with a single "value" field on the wire.

// FrameworkID identifies a framework; assigned by the master on first SUBSCRIBE.
type FrameworkID struct {
	Value string `json:"value"`
}

// OfferID identifies an offer; never reused by a master.
type OfferID struct {
	Value string `json:"value"`
}

// InverseOfferID identifies an inverse (maintenance) offer.
type InverseOfferID = OfferID

// AgentID identifies an agent.
type AgentID struct {
	Value string `json:"value"`
}

// TaskID identifies a task; chosen by the framework.
type TaskID struct {
	Value string `json:"value"`
}

// ExecutorID identifies an executor; equals the task id for command tasks.
type ExecutorID struct {
	Value string `json:"value"`
}

// ContainerID identifies a container on an agent.
type ContainerID struct {
	Value string `json:"value"`
}

// OperationID identifies an offer operation with feedback.
type OperationID struct {
	Value string `json:"value"`
}

// ResourceProviderID identifies a resource provider.
type ResourceProviderID struct {
	Value string `json:"value"`
}

// UUID is the nested UUID message (used by OperationStatus.uuid): raw bytes,
// base64 in JSON.
type UUID struct {
	Value []byte `json:"value"`
}

// DurationInfo is a duration in nanoseconds.
type DurationInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// Duration converts d to a time.Duration.
func (d DurationInfo) Duration() time.Duration { return time.Duration(d.Nanoseconds) }

// NewDurationInfo returns a DurationInfo for d.
func NewDurationInfo(d time.Duration) *DurationInfo {
	return &DurationInfo{Nanoseconds: int64(d)}
}

// TimeInfo is a point in time in nanoseconds since the Unix epoch.
type TimeInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// Label is one key/value pair.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Labels is a list of labels (the Labels message).
type Labels struct {
	Labels []Label `json:"labels,omitempty"`
}

// Get returns the value of the first label named key.
func (l *Labels) Get(key string) (string, bool) {
	if l == nil {
		return "", false
	}
	for _, lb := range l.Labels {
		if lb.Key == key {
			return lb.Value, true
		}
	}
	return "", false
}

// Parameter is a key/value pair (DockerInfo.parameters, URL.query).
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Address is a network address (hostname and/or ip, and port).
type Address struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int32  `json:"port"`
}

// URL is the Mesos URL message.
type URL struct {
	Scheme   string      `json:"scheme"`
	Address  Address     `json:"address"`
	Path     string      `json:"path,omitempty"`
	Query    []Parameter `json:"query,omitempty"`
	Fragment string      `json:"fragment,omitempty"`
}

// MasterInfo describes a master (SUBSCRIBED event, ZooKeeper json.info_ nodes).
// IP is the IPv4 address packed in network byte order read as a host uint32;
// it and Hostname/Port are deprecated in favour of Address.
type MasterInfo struct {
	ID           string             `json:"id"`
	IP           uint32             `json:"ip"`
	Port         uint32             `json:"port"`
	PID          string             `json:"pid,omitempty"`
	Hostname     string             `json:"hostname,omitempty"`
	Version      string             `json:"version,omitempty"`
	Address      *Address           `json:"address,omitempty"`
	Capabilities []MasterCapability `json:"capabilities,omitempty"`
}

// MasterCapability is one entry of MasterInfo.capabilities.
type MasterCapability struct {
	Type string `json:"type"`
}

// FrameworkCapabilityType enumerates FrameworkInfo.Capability.Type.
type FrameworkCapabilityType string

// Framework capabilities.
const (
	CapRevocableResources    FrameworkCapabilityType = "REVOCABLE_RESOURCES"
	CapTaskKillingState      FrameworkCapabilityType = "TASK_KILLING_STATE"
	CapGPUResources          FrameworkCapabilityType = "GPU_RESOURCES"
	CapSharedResources       FrameworkCapabilityType = "SHARED_RESOURCES"
	CapPartitionAware        FrameworkCapabilityType = "PARTITION_AWARE"
	CapMultiRole             FrameworkCapabilityType = "MULTI_ROLE"
	CapReservationRefinement FrameworkCapabilityType = "RESERVATION_REFINEMENT"
	CapRegionAware           FrameworkCapabilityType = "REGION_AWARE"
)

// FrameworkCapability is one entry of FrameworkInfo.capabilities.
type FrameworkCapability struct {
	Type FrameworkCapabilityType `json:"type"`
}

// FrameworkInfo describes a framework. User and Name are required by the
// master. FailoverTimeout is in seconds (0 = tasks die on disconnect).
type FrameworkInfo struct {
	User            string                `json:"user"`
	Name            string                `json:"name"`
	ID              *FrameworkID          `json:"id,omitempty"`
	FailoverTimeout float64               `json:"failover_timeout,omitempty"`
	Checkpoint      bool                  `json:"checkpoint,omitempty"`
	Role            string                `json:"role,omitempty"` // deprecated; use Roles with MULTI_ROLE
	Roles           []string              `json:"roles,omitempty"`
	Hostname        string                `json:"hostname,omitempty"`
	Principal       string                `json:"principal,omitempty"`
	WebUIURL        string                `json:"webui_url,omitempty"`
	Capabilities    []FrameworkCapability `json:"capabilities,omitempty"`
	Labels          *Labels               `json:"labels,omitempty"`
}

// HasCapability reports whether fi lists capability c.
func (fi *FrameworkInfo) HasCapability(c FrameworkCapabilityType) bool {
	for _, fc := range fi.Capabilities {
		if fc.Type == c {
			return true
		}
	}
	return false
}

// ValueType enumerates Value.Type.
type ValueType string

// Value types.
const (
	ScalarType ValueType = "SCALAR"
	RangesType ValueType = "RANGES"
	SetType    ValueType = "SET"
	TextType   ValueType = "TEXT"
)

// ValueScalar is Value.Scalar (fixed point, 3 decimals, in Mesos).
type ValueScalar struct {
	Value float64 `json:"value"`
}

// ValueRange is one inclusive range [Begin, End].
type ValueRange struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

// ValueRanges is Value.Ranges.
type ValueRanges struct {
	Range []ValueRange `json:"range,omitempty"`
}

// ValueSet is Value.Set.
type ValueSet struct {
	Item []string `json:"item,omitempty"`
}

// ValueText is Value.Text.
type ValueText struct {
	Value string `json:"value"`
}

// AllocationInfo carries the role an offered/allocated resource belongs to.
type AllocationInfo struct {
	Role string `json:"role,omitempty"`
}

// ReservationInfo is one entry of Resource.reservations (refinement format).
type ReservationInfo struct {
	Type      string  `json:"type,omitempty"` // STATIC or DYNAMIC
	Role      string  `json:"role,omitempty"`
	Principal string  `json:"principal,omitempty"`
	Labels    *Labels `json:"labels,omitempty"`
}

// Resource is one named resource of a given type. Role "*" (or empty)
// means unreserved.
type Resource struct {
	Name           string            `json:"name"`
	Type           ValueType         `json:"type"`
	Scalar         *ValueScalar      `json:"scalar,omitempty"`
	Ranges         *ValueRanges      `json:"ranges,omitempty"`
	Set            *ValueSet         `json:"set,omitempty"`
	Role           string            `json:"role,omitempty"`
	Reservation    *ReservationInfo  `json:"reservation,omitempty"` // pre-refinement dynamic reservation
	AllocationInfo *AllocationInfo   `json:"allocation_info,omitempty"`
	Reservations   []ReservationInfo `json:"reservations,omitempty"`
}

// Attribute is an agent attribute (SCALAR, RANGES, SET or TEXT).
type Attribute struct {
	Name   string       `json:"name"`
	Type   ValueType    `json:"type"`
	Scalar *ValueScalar `json:"scalar,omitempty"`
	Ranges *ValueRanges `json:"ranges,omitempty"`
	Set    *ValueSet    `json:"set,omitempty"`
	Text   *ValueText   `json:"text,omitempty"`
}

// Unavailability is a maintenance window.
type Unavailability struct {
	Start    TimeInfo      `json:"start"`
	Duration *DurationInfo `json:"duration,omitempty"`
}

// Offer is a resource offer from one agent.
type Offer struct {
	ID             OfferID         `json:"id"`
	FrameworkID    FrameworkID     `json:"framework_id"`
	AgentID        AgentID         `json:"agent_id"`
	Hostname       string          `json:"hostname"`
	URL            *URL            `json:"url,omitempty"`
	Resources      []Resource      `json:"resources,omitempty"`
	Attributes     []Attribute     `json:"attributes,omitempty"`
	ExecutorIDs    []ExecutorID    `json:"executor_ids,omitempty"`
	Unavailability *Unavailability `json:"unavailability,omitempty"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
}

// InverseOffer asks the framework to vacate an agent for maintenance.
type InverseOffer struct {
	ID             OfferID        `json:"id"`
	URL            *URL           `json:"url,omitempty"`
	FrameworkID    FrameworkID    `json:"framework_id"`
	AgentID        *AgentID       `json:"agent_id,omitempty"`
	Unavailability Unavailability `json:"unavailability"`
	Resources      []Resource     `json:"resources,omitempty"`
}

// OperationType enumerates Offer.Operation.Type.
type OperationType string

// Offer operation types.
const (
	OpLaunch        OperationType = "LAUNCH"
	OpLaunchGroup   OperationType = "LAUNCH_GROUP"
	OpReserve       OperationType = "RESERVE"
	OpUnreserve     OperationType = "UNRESERVE"
	OpCreate        OperationType = "CREATE"
	OpDestroy       OperationType = "DESTROY"
	OpGrowVolume    OperationType = "GROW_VOLUME"
	OpShrinkVolume  OperationType = "SHRINK_VOLUME"
	OpCreateDisk    OperationType = "CREATE_DISK"
	OpDestroyDisk   OperationType = "DESTROY_DISK"
	OpUnknownOpType OperationType = "UNKNOWN"
)

// Operation is Offer.Operation; only the sub-message matching Type is set.
type Operation struct {
	Type        OperationType         `json:"type"`
	ID          *OperationID          `json:"id,omitempty"`
	Launch      *OperationLaunch      `json:"launch,omitempty"`
	LaunchGroup *OperationLaunchGroup `json:"launch_group,omitempty"`
	Reserve     *OperationResources   `json:"reserve,omitempty"`
	Unreserve   *OperationResources   `json:"unreserve,omitempty"`
	Create      *OperationVolumes     `json:"create,omitempty"`
	Destroy     *OperationVolumes     `json:"destroy,omitempty"`
}

// OperationLaunch launches tasks.
type OperationLaunch struct {
	TaskInfos []TaskInfo `json:"task_infos,omitempty"`
}

// OperationLaunchGroup launches a task group under an executor.
type OperationLaunchGroup struct {
	Executor  ExecutorInfo  `json:"executor"`
	TaskGroup TaskGroupInfo `json:"task_group"`
}

// TaskGroupInfo is a group of tasks launched together.
type TaskGroupInfo struct {
	Tasks []TaskInfo `json:"tasks,omitempty"`
}

// OperationResources is the body of RESERVE/UNRESERVE.
type OperationResources struct {
	Source    []Resource `json:"source,omitempty"`
	Resources []Resource `json:"resources,omitempty"`
}

// OperationVolumes is the body of CREATE/DESTROY.
type OperationVolumes struct {
	Volumes []Resource `json:"volumes,omitempty"`
}

// Filters apply to declined/unused resources. RefuseSeconds unset means the
// master default (5 s); 0 means no filter.
type Filters struct {
	RefuseSeconds *float64 `json:"refuse_seconds,omitempty"`
}

// NewFilters returns Filters refusing for d (rounded to milliseconds).
func NewFilters(d time.Duration) *Filters {
	s := d.Seconds()
	return &Filters{RefuseSeconds: &s}
}

// TaskInfo describes a task to launch. Exactly one of Executor and Command
// must be set.
type TaskInfo struct {
	Name              string         `json:"name"`
	TaskID            TaskID         `json:"task_id"`
	AgentID           AgentID        `json:"agent_id"`
	Resources         []Resource     `json:"resources,omitempty"`
	Executor          *ExecutorInfo  `json:"executor,omitempty"`
	Command           *CommandInfo   `json:"command,omitempty"`
	Container         *ContainerInfo `json:"container,omitempty"`
	HealthCheck       *HealthCheck   `json:"health_check,omitempty"`
	KillPolicy        *KillPolicy    `json:"kill_policy,omitempty"`
	Data              []byte         `json:"data,omitempty"`
	Labels            *Labels        `json:"labels,omitempty"`
	MaxCompletionTime *DurationInfo  `json:"max_completion_time,omitempty"`
}

// ExecutorInfo describes a custom or default executor.
type ExecutorInfo struct {
	Type        string         `json:"type,omitempty"` // DEFAULT or CUSTOM
	ExecutorID  ExecutorID     `json:"executor_id"`
	FrameworkID *FrameworkID   `json:"framework_id,omitempty"`
	Command     *CommandInfo   `json:"command,omitempty"`
	Container   *ContainerInfo `json:"container,omitempty"`
	Resources   []Resource     `json:"resources,omitempty"`
	Name        string         `json:"name,omitempty"`
	Labels      *Labels        `json:"labels,omitempty"`
}

// CommandURI is a file fetched into the sandbox before launch.
// Extract defaults to true when unset.
type CommandURI struct {
	Value      string `json:"value"`
	Executable *bool  `json:"executable,omitempty"`
	Extract    *bool  `json:"extract,omitempty"`
	Cache      *bool  `json:"cache,omitempty"`
	OutputFile string `json:"output_file,omitempty"`
}

// EnvVariableType enumerates Environment.Variable.Type.
type EnvVariableType string

// Environment variable types.
const (
	EnvValue  EnvVariableType = "VALUE"
	EnvSecret EnvVariableType = "SECRET"
)

// SecretValue is Secret.Value: the secret bytes themselves.
type SecretValue struct {
	Data []byte `json:"data"`
}

// SecretReference is Secret.Reference: a name the agent's secret resolver looks up.
type SecretReference struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// Secret is a secret by value or by reference (type VALUE or REFERENCE).
type Secret struct {
	Type      string           `json:"type"`
	Reference *SecretReference `json:"reference,omitempty"`
	Value     *SecretValue     `json:"value,omitempty"`
}

// EnvVariable is one environment variable. Type unset means VALUE.
type EnvVariable struct {
	Name   string          `json:"name"`
	Type   EnvVariableType `json:"type,omitempty"`
	Value  *string         `json:"value,omitempty"`
	Secret *Secret         `json:"secret,omitempty"`
}

// Environment is CommandInfo.environment.
type Environment struct {
	Variables []EnvVariable `json:"variables,omitempty"`
}

// CommandInfo is the command of a task or executor. Shell defaults to true
// when unset: Value runs under /bin/sh -c and Arguments are ignored. With
// Shell false, Value is the executable and Arguments its full argv
// (argv[0] included).
type CommandInfo struct {
	URIs        []CommandURI `json:"uris,omitempty"`
	Environment *Environment `json:"environment,omitempty"`
	Shell       *bool        `json:"shell,omitempty"`
	Value       *string      `json:"value,omitempty"`
	Arguments   []string     `json:"arguments,omitempty"`
	User        string       `json:"user,omitempty"`
}

// IsShell reports whether the command runs under a shell (the default).
func (c *CommandInfo) IsShell() bool { return c.Shell == nil || *c.Shell }

// ContainerType enumerates ContainerInfo.Type.
type ContainerType string

// Container types.
const (
	ContainerDocker ContainerType = "DOCKER"
	ContainerMesos  ContainerType = "MESOS"
)

// DockerNetwork enumerates DockerInfo.Network.
type DockerNetwork string

// Docker networks (HOST is the default when unset).
const (
	NetworkHost   DockerNetwork = "HOST"
	NetworkBridge DockerNetwork = "BRIDGE"
	NetworkNone   DockerNetwork = "NONE"
	NetworkUser   DockerNetwork = "USER"
)

// PortMapping maps a host port (which must be in the task's ports
// resource) to a container port. Protocol defaults to tcp.
type PortMapping struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"`
}

// DockerInfo describes a Docker container.
type DockerInfo struct {
	Image          string        `json:"image"`
	Network        DockerNetwork `json:"network,omitempty"`
	PortMappings   []PortMapping `json:"port_mappings,omitempty"`
	Privileged     bool          `json:"privileged,omitempty"`
	Parameters     []Parameter   `json:"parameters,omitempty"`
	ForcePullImage bool          `json:"force_pull_image,omitempty"`
}

// NetworkOrDefault returns the network, HOST when unset.
func (d *DockerInfo) NetworkOrDefault() DockerNetwork {
	if d.Network == "" {
		return NetworkHost
	}
	return d.Network
}

// DockerImage names a Docker image for the Mesos containerizer.
type DockerImage struct {
	Name string `json:"name"`
}

// Image is an image for the Mesos containerizer (type DOCKER or APPC).
type Image struct {
	Type   string       `json:"type"`
	Docker *DockerImage `json:"docker,omitempty"`
	Cached *bool        `json:"cached,omitempty"`
}

// MesosInfo describes a Mesos-containerizer container.
type MesosInfo struct {
	Image *Image `json:"image,omitempty"`
}

// Volume is a container volume. Mode is RW or RO.
type Volume struct {
	ContainerPath string `json:"container_path"`
	HostPath      string `json:"host_path,omitempty"`
	Mode          string `json:"mode,omitempty"`
}

// IPAddress is NetworkInfo.IPAddress. Protocol is IPv4 (default) or IPv6.
type IPAddress struct {
	Protocol  string `json:"protocol,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// NetworkInfo describes a container network (CNI) or a container's addresses.
type NetworkInfo struct {
	IPAddresses  []IPAddress   `json:"ip_addresses,omitempty"`
	Name         string        `json:"name,omitempty"`
	Groups       []string      `json:"groups,omitempty"`
	Labels       *Labels       `json:"labels,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}

// ContainerInfo describes the container a task runs in.
type ContainerInfo struct {
	Type         ContainerType `json:"type"`
	Volumes      []Volume      `json:"volumes,omitempty"`
	Hostname     string        `json:"hostname,omitempty"`
	Docker       *DockerInfo   `json:"docker,omitempty"`
	Mesos        *MesosInfo    `json:"mesos,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// HealthCheckType enumerates HealthCheck.Type.
type HealthCheckType string

// Health check types.
const (
	HealthCommand HealthCheckType = "COMMAND"
	HealthHTTP    HealthCheckType = "HTTP"
	HealthTCP     HealthCheckType = "TCP"
)

// HTTPCheckInfo is HealthCheck.http.
type HTTPCheckInfo struct {
	Scheme   string   `json:"scheme,omitempty"`
	Port     uint32   `json:"port"`
	Path     string   `json:"path,omitempty"`
	Statuses []uint32 `json:"statuses,omitempty"`
}

// TCPCheckInfo is HealthCheck.tcp.
type TCPCheckInfo struct {
	Port uint32 `json:"port"`
}

// HealthCheck is a Mesos-native health check run by the built-in executors.
// Unset numeric fields take the Mesos defaults (see the accessor methods).
type HealthCheck struct {
	Type                HealthCheckType `json:"type,omitempty"`
	DelaySeconds        *float64        `json:"delay_seconds,omitempty"`
	IntervalSeconds     *float64        `json:"interval_seconds,omitempty"`
	TimeoutSeconds      *float64        `json:"timeout_seconds,omitempty"`
	ConsecutiveFailures *uint32         `json:"consecutive_failures,omitempty"`
	GracePeriodSeconds  *float64        `json:"grace_period_seconds,omitempty"`
	Command             *CommandInfo    `json:"command,omitempty"`
	HTTP                *HTTPCheckInfo  `json:"http,omitempty"`
	TCP                 *TCPCheckInfo   `json:"tcp,omitempty"`
}

func secondsOr(p *float64, def float64) time.Duration {
	v := def
	if p != nil {
		v = *p
	}
	return time.Duration(v * float64(time.Second))
}

// Delay returns delay_seconds, default 15 s.
func (h *HealthCheck) Delay() time.Duration { return secondsOr(h.DelaySeconds, 15) }

// Interval returns interval_seconds, default 10 s.
func (h *HealthCheck) Interval() time.Duration { return secondsOr(h.IntervalSeconds, 10) }

// Timeout returns timeout_seconds, default 20 s (0 = no timeout).
func (h *HealthCheck) Timeout() time.Duration { return secondsOr(h.TimeoutSeconds, 20) }

// GracePeriod returns grace_period_seconds, default 10 s.
func (h *HealthCheck) GracePeriod() time.Duration { return secondsOr(h.GracePeriodSeconds, 10) }

// MaxConsecutiveFailures returns consecutive_failures, default 3.
func (h *HealthCheck) MaxConsecutiveFailures() uint32 {
	if h.ConsecutiveFailures == nil {
		return 3
	}
	return *h.ConsecutiveFailures
}

// KillPolicy sets the grace period between SIGTERM/docker stop and SIGKILL.
type KillPolicy struct {
	GracePeriod *DurationInfo `json:"grace_period,omitempty"`
}

// TaskState enumerates the task states.
type TaskState string

// Task states.
const (
	TaskStaging        TaskState = "TASK_STAGING"
	TaskStarting       TaskState = "TASK_STARTING"
	TaskRunning        TaskState = "TASK_RUNNING"
	TaskKilling        TaskState = "TASK_KILLING"
	TaskFinished       TaskState = "TASK_FINISHED"
	TaskFailed         TaskState = "TASK_FAILED"
	TaskKilled         TaskState = "TASK_KILLED"
	TaskError          TaskState = "TASK_ERROR"
	TaskLost           TaskState = "TASK_LOST"
	TaskDropped        TaskState = "TASK_DROPPED"
	TaskUnreachable    TaskState = "TASK_UNREACHABLE"
	TaskGone           TaskState = "TASK_GONE"
	TaskGoneByOperator TaskState = "TASK_GONE_BY_OPERATOR"
	TaskUnknown        TaskState = "TASK_UNKNOWN"
)

// IsTerminal reports whether s is terminal as Mesos's code treats it
// (TASK_LOST and TASK_GONE_BY_OPERATOR included; UNREACHABLE and UNKNOWN not).
func (s TaskState) IsTerminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOperator:
		return true
	}
	return false
}

// TaskStatusSource enumerates TaskStatus.Source.
type TaskStatusSource string

// Status sources.
const (
	SourceMaster   TaskStatusSource = "SOURCE_MASTER"
	SourceAgent    TaskStatusSource = "SOURCE_AGENT"
	SourceExecutor TaskStatusSource = "SOURCE_EXECUTOR"
)

// Status reasons used by this project (the full list is in Mesos's
// task-state-reasons doc; any string is carried through).
const (
	ReasonReconciliation            = "REASON_RECONCILIATION"
	ReasonInvalidOffers             = "REASON_INVALID_OFFERS"
	ReasonTaskInvalid               = "REASON_TASK_INVALID"
	ReasonTaskUnauthorized          = "REASON_TASK_UNAUTHORIZED"
	ReasonTaskHealthCheckUpdated    = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
	ReasonTaskKilledDuringLaunch    = "REASON_TASK_KILLED_DURING_LAUNCH"
	ReasonAgentRemoved              = "REASON_AGENT_REMOVED"
	ReasonAgentUnknown              = "REASON_AGENT_UNKNOWN"
	ReasonAgentDisconnected         = "REASON_AGENT_DISCONNECTED"
	ReasonAgentRestarted            = "REASON_AGENT_RESTARTED"
	ReasonExecutorTerminated        = "REASON_EXECUTOR_TERMINATED"
	ReasonCommandExecutorFailed     = "REASON_COMMAND_EXECUTOR_FAILED"
	ReasonContainerLaunchFailed     = "REASON_CONTAINER_LAUNCH_FAILED"
	ReasonFrameworkRemoved          = "REASON_FRAMEWORK_REMOVED"
	ReasonMaxCompletionTimeReached  = "REASON_MAX_COMPLETION_TIME_REACHED"
	ReasonTaskUnknown               = "REASON_TASK_UNKNOWN"
	ReasonFetcherFailed             = "REASON_FETCHER_FAILED"
	ReasonExecutorRegistrationTimed = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
)

// ContainerStatus is TaskStatus.container_status.
type ContainerStatus struct {
	ContainerID  *ContainerID  `json:"container_id,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
	ExecutorPID  uint32        `json:"executor_pid,omitempty"`
}

// TaskStatus is a status update. UUID is set only for reliable updates
// (from agents/executors); only those are acknowledged.
type TaskStatus struct {
	TaskID          TaskID           `json:"task_id"`
	State           TaskState        `json:"state"`
	Message         string           `json:"message,omitempty"`
	Source          TaskStatusSource `json:"source,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	Data            []byte           `json:"data,omitempty"`
	AgentID         *AgentID         `json:"agent_id,omitempty"`
	ExecutorID      *ExecutorID      `json:"executor_id,omitempty"`
	Timestamp       float64          `json:"timestamp,omitempty"`
	UUID            []byte           `json:"uuid,omitempty"`
	Healthy         *bool            `json:"healthy,omitempty"`
	Labels          *Labels          `json:"labels,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
	UnreachableTime *TimeInfo        `json:"unreachable_time,omitempty"`
}

// OperationState enumerates OperationStatus.state.
type OperationState string

// OperationStatus is feedback for an offer operation with an id.
type OperationStatus struct {
	OperationID        *OperationID        `json:"operation_id,omitempty"`
	State              OperationState      `json:"state"`
	Message            string              `json:"message,omitempty"`
	ConvertedResources []Resource          `json:"converted_resources,omitempty"`
	UUID               *UUID               `json:"uuid,omitempty"`
	AgentID            *AgentID            `json:"agent_id,omitempty"`
	ResourceProviderID *ResourceProviderID `json:"resource_provider_id,omitempty"`
}

// RawJSON is used for message fields this package carries without
// interpreting them (e.g. offer_constraints).
type RawJSON = json.RawMessage
