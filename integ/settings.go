package integ

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

// Settings are the values of cdk.json that the checks expect to see
// deployed, as contract.json holds them (make snapshots writes it from
// cdk.json and the defaults). The test app overrides only the keys in
// Overrides, none of these.
type Settings struct {
	MinTasks          int
	OnDemandBaseTasks int
	HealthCheckPath   string
	// CorsOrigin is an origin the service allows: any when
	// corsAllowedOrigins is "*", else the first listed.
	CorsOrigin string
	// Contract holds the probe, the request that shows the app works.
	Contract contract.Contract
}

// ReadSettings reads Settings from root's contract.json.
func ReadSettings(root string) (Settings, error) {
	c, err := contract.Read(root)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{
		MinTasks:          c.MinTasks,
		OnDemandBaseTasks: c.OnDemandBaseTasks,
		HealthCheckPath:   c.HealthCheckPath,
		Contract:          c,
	}
	if c.CorsAllowedOrigins == "*" {
		s.CorsOrigin = "https://integ.example.com"
	} else {
		s.CorsOrigin, _, _ = strings.Cut(c.CorsAllowedOrigins, ",")
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
