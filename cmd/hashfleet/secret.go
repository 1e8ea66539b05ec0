package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// Environment variables that carry secrets; secrets never go on the
// command line. The RPC password's name is the scheduler's: it hands the
// password to the server task in that variable.
const (
	envRPCPassword  = scheduler.EnvRPCPassword
	envPoolPassword = "HASHFLEET_POOL_PASSWORD"
	envUpPassword   = "HASHFLEET_UPSTREAM_PASSWORD"
)

// readSecret returns a secret read from file (trailing newlines trimmed)
// or, when file is "", from the environment variable env ("" = none).
// flag names the file's flag in errors, which never hold the value.
func readSecret(flag, file, env string) (string, error) {
	if file == "" {
		if env == "" {
			return "", nil
		}
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// requireSecret is readSecret where an empty secret is an error.
func requireSecret(flag, file, env string) (string, error) {
	s, err := readSecret(flag, file, env)
	switch {
	case err != nil:
		return "", err
	case s != "":
		return s, nil
	case file != "":
		return "", fmt.Errorf("%s: file %s is empty", flag, file)
	case env != "":
		return "", fmt.Errorf("%s or $%s needed", flag, env)
	}
	return "", fmt.Errorf("%s needed", flag)
}
