package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// nestedManifest is what LoadEnvironment reads of a manifest: the nested
// cloud assemblies, one per CDK Stage (an environment of the app).
type nestedManifest struct {
	Artifacts map[string]struct {
		Type       string `json:"type"`
		Properties struct {
			DirectoryName string `json:"directoryName"`
			DisplayName   string `json:"displayName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// LoadEnvironment reads environment env of the assembly in dir: the nested
// assembly of the Stage named env (cdk.out/assembly-<env>), or, when dir
// has no such Stage, the stacks at the top of dir, where an environment
// that adopted an existing deployment keeps them. An empty env reads the
// top of dir, as Load.
func LoadEnvironment(dir, env string) (*Assembly, error) {
	if env == "" {
		return Load(dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a synthesized cloud assembly (run cdk synth): %w", dir, err)
	}
	var m nestedManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	var stages []string
	for _, a := range m.Artifacts {
		if a.Type != "cdk:cloud-assembly" {
			continue
		}
		if a.Properties.DisplayName == env {
			return Load(filepath.Join(dir, a.Properties.DirectoryName))
		}
		stages = append(stages, a.Properties.DisplayName)
	}
	top, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if len(top.Stacks) == 0 {
		slices.Sort(stages)
		return nil, fmt.Errorf("%s has no environment %s (it has %q)", dir, env, stages)
	}
	return top, nil
}
