package integ

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Settings are the values of cdk.json that the checks expect to see
// deployed. The test app overrides only the keys in Overrides.
type Settings struct {
	MinTasks          int
	OnDemandBaseTasks int
	HealthCheckPath   string
	// CorsOrigin is an origin the service allows: any when
	// corsAllowedOrigins is "*", else the first listed.
	CorsOrigin string
}

// ReadSettings reads Settings from the context section of cdk.json.
func ReadSettings(cdkJSON string) (Settings, error) {
	data, err := os.ReadFile(cdkJSON)
	if err != nil {
		return Settings{}, err
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", cdkJSON, err)
	}
	var errs []string
	get := func(key string) string {
		switch v := file.Context[key].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		errs = append(errs, key)
		return ""
	}
	number := func(key string) int {
		s := get(key)
		n, err := strconv.Atoi(s)
		if err != nil && s != "" {
			errs = append(errs, key)
		}
		return n
	}
	s := Settings{
		MinTasks:          number("minTasks"),
		OnDemandBaseTasks: number("onDemandBaseTasks"),
		HealthCheckPath:   get("healthCheckPath"),
		CorsOrigin:        get("corsAllowedOrigins"),
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("%s: no usable value for %s", cdkJSON, strings.Join(errs, ", "))
	}
	if s.CorsOrigin == "*" {
		s.CorsOrigin = "https://integ.example.com"
	} else {
		s.CorsOrigin, _, _ = strings.Cut(s.CorsOrigin, ",")
		s.CorsOrigin = strings.TrimSpace(s.CorsOrigin)
	}
	return s, nil
}

// Outputs are the stack outputs the checks use.
type Outputs struct {
	ServiceURL   string // <app>-LoadBalancer ServiceUrl
	ClusterName  string // <app>-Cluster ClusterName
	ServiceName  string // <app>-Service ServiceName
	LogGroupName string // <app>-Service LogGroupName
}

// ReadOutputs reads Outputs for app from the file that
// `cdk deploy --outputs-file` wrote: an object of stacks by name, each an
// object of outputs by name.
func ReadOutputs(path, app string) (Outputs, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Outputs{}, err
	}
	var stacks map[string]map[string]string
	if err := json.Unmarshal(data, &stacks); err != nil {
		return Outputs{}, fmt.Errorf("%s: %w", path, err)
	}
	var missing []string
	get := func(stack, output string) string {
		v := stacks[app+"-"+stack][output]
		if v == "" {
			missing = append(missing, app+"-"+stack+"."+output)
		}
		return v
	}
	o := Outputs{
		ServiceURL:   strings.TrimSuffix(get("LoadBalancer", "ServiceUrl"), "/"),
		ClusterName:  get("Cluster", "ClusterName"),
		ServiceName:  get("Service", "ServiceName"),
		LogGroupName: get("Service", "LogGroupName"),
	}
	if len(missing) > 0 {
		return Outputs{}, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	return o, nil
}
