package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Schemas are the CloudFormation resource schemas of one region, as
// cfn-lint ships them offline: data/schemas/providers/<region>.py maps
// each resource type to a file in data/schemas/resources/.
type Schemas struct {
	dir    string
	region string
	files  map[string]string // type -> schema file name

	mu         sync.Mutex
	createOnly map[string][]string
}

// ErrNoSchemas says where the schemas come from, for a machine without
// cfn-lint.
var ErrNoSchemas = errors.New("the plan needs the CloudFormation resource schemas that cfn-lint ships: install it (pip install cfn-lint), or name its data/schemas directory with -schemas")

// CfnLintSchemas finds the schemas of the installed cfn-lint package
// through python3.
func CfnLintSchemas() (string, error) {
	out, err := exec.Command("python3", "-c", "import cfnlint, os; print(os.path.dirname(cfnlint.__file__))").Output()
	if err != nil {
		return "", ErrNoSchemas
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "data", "schemas")
	if _, err := os.Stat(filepath.Join(dir, "providers")); err != nil {
		return "", fmt.Errorf("%w (no providers/ in %s)", ErrNoSchemas, dir)
	}
	return dir, nil
}

var providerEntry = regexp.MustCompile(`"([A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+)": "([0-9a-f]+)"`)

// LoadSchemas reads the type index of region ("" means us-east-1, which
// has every type) from cfn-lint's data/schemas directory dir.
func LoadSchemas(dir, region string) (*Schemas, error) {
	if region == "" {
		region = "us-east-1"
	}
	index := filepath.Join(dir, "providers", strings.ReplaceAll(region, "-", "_")+".py")
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSchemas, err)
	}
	s := &Schemas{dir: dir, region: region, files: map[string]string{}, createOnly: map[string][]string{}}
	for _, m := range providerEntry.FindAllStringSubmatch(string(data), -1) {
		s.files[m[1]] = m[2]
	}
	if len(s.files) == 0 {
		return nil, fmt.Errorf("%w: no resource types in %s", ErrNoSchemas, index)
	}
	return s, nil
}

// Known reports whether the schemas describe typ.
func (s *Schemas) Known(typ string) bool { _, ok := s.files[typ]; return ok }

// CreateOnly returns typ's create-only properties as JSON pointers into the
// resource ("/properties/VpcId"): changing one replaces the resource. A
// custom resource (Custom::*, AWS::CloudFormation::CustomResource) has none
// that a template can change except its ServiceToken, which
// CloudFormation refuses to change.
func (s *Schemas) CreateOnly(typ string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.createOnly[typ]; ok {
		return c, nil
	}
	file, ok := s.files[typ]
	if !ok {
		if strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource" {
			return nil, nil
		}
		return nil, fmt.Errorf("no schema for %s in region %s", typ, s.region)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "resources", file+".json"))
	if err != nil {
		return nil, err
	}
	var schema struct {
		CreateOnly []string `json:"createOnlyProperties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", typ, err)
	}
	s.createOnly[typ] = schema.CreateOnly
	return schema.CreateOnly, nil
}

// SchemaCache returns a loader for Diff that reads each region's schemas
// from dir once.
func SchemaCache(dir string) func(region string) (*Schemas, error) {
	var mu sync.Mutex
	cache := map[string]*Schemas{}
	return func(region string) (*Schemas, error) {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := cache[region]; ok {
			return s, nil
		}
		s, err := LoadSchemas(dir, region)
		if err != nil {
			return nil, err
		}
		cache[region] = s
		return s, nil
	}
}
