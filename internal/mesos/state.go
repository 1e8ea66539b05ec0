package mesos

// MasterState is the read-only /master/state (and /state) document of a
// Mesos master: the subset that tools read. The embedded master renders it
// and the dashboard reads it, so both use this one type. Resources are the
// endpoint's shape: scalars as JSON numbers (float64 when decoded into
// map[string]any), ranges and sets as strings such as "[31000-32000]".
type MasterState struct {
	ID                  string           `json:"id"`
	PID                 string           `json:"pid"`
	Hostname            string           `json:"hostname"`
	Version             string           `json:"version"`
	StartTime           float64          `json:"start_time"`
	ElectedTime         float64          `json:"elected_time"`
	Leader              string           `json:"leader"`
	LeaderInfo          MasterInfo       `json:"leader_info"`
	ActivatedAgents     int              `json:"activated_slaves"`
	Agents              []StateAgent     `json:"slaves"`
	Frameworks          []StateFramework `json:"frameworks"`
	CompletedFrameworks []StateFramework `json:"completed_frameworks"`
}

// StateAgent is one agent of MasterState.
type StateAgent struct {
	ID        string         `json:"id"`
	Hostname  string         `json:"hostname"`
	Active    bool           `json:"active"`
	Resources map[string]any `json:"resources"`
	Used      map[string]any `json:"used_resources"`
	Offered   map[string]any `json:"offered_resources"`
}

// StateFramework is one framework of MasterState.
type StateFramework struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	User           string         `json:"user"`
	Principal      string         `json:"principal,omitempty"`
	Roles          []string       `json:"roles"`
	Active         bool           `json:"active"`
	Connected      bool           `json:"connected"`
	FailoverTime   float64        `json:"failover_timeout"`
	RegisteredTime float64        `json:"registered_time"`
	Used           map[string]any `json:"used_resources"`
	Offered        map[string]any `json:"offered_resources"`
	Tasks          []StateTask    `json:"tasks"`
	Completed      []StateTask    `json:"completed_tasks"`
	Offers         []StateOffer   `json:"offers"`
}

// StateTask is one task of a StateFramework.
type StateTask struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	AgentID     string         `json:"slave_id"`
	State       TaskState      `json:"state"`
	Resources   map[string]any `json:"resources"`
	Statuses    []TaskStatus   `json:"statuses,omitempty"`
}

// StateOffer is one outstanding offer of a StateFramework.
type StateOffer struct {
	ID          string         `json:"id"`
	FrameworkID string         `json:"framework_id"`
	AgentID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
}
