package stacks

import (
	"slices"
	"strings"
)

// configDoc is where an error sends the user for the keys and their values.
const configDoc = "docs/configuration.md"

// keyAlias is what an unknown key most likely meant: the names other
// tools give a setting (ECS task definitions and services, Copilot
// manifests, Terraform modules), and words a user types for it.
type keyAlias struct {
	keys []string
	// why is added when the keys alone would puzzle.
	why string
}

// keyAliases are looked up by the unknown key in lower case without
// underscores. They hold only what suggest finds no better way: a key that
// contains the word, or a typo of a key, needs no entry.
var keyAliases = map[string]keyAlias{
	"memory":            {keys: []string{"memoryMiB"}},
	"mem":               {keys: []string{"memoryMiB"}},
	"memorysize":        {keys: []string{"memoryMiB"}},
	"variables":         {keys: []string{"environment"}},
	"vars":              {keys: []string{"environment"}},
	"envvars":           {keys: []string{"environment"}},
	"env":               {keys: []string{"environment"}},
	"hostport":          {keys: []string{"containerPort"}},
	"listenport":        {keys: []string{"containerPort"}},
	"healthcheckurl":    {keys: []string{"healthCheckPath"}},
	"desiredcount":      {keys: []string{"minTasks", "maxTasks"}, why: "the service scales between the two"},
	"count":             {keys: []string{"minTasks", "maxTasks"}, why: "the service scales between the two"},
	"tasks":             {keys: []string{"minTasks", "maxTasks"}, why: "the service scales between the two"},
	"replicas":          {keys: []string{"minTasks", "maxTasks"}, why: "the service scales between the two"},
	"mincount":          {keys: []string{"minTasks"}},
	"mincapacity":       {keys: []string{"minTasks"}},
	"maxcount":          {keys: []string{"maxTasks"}},
	"maxcapacity":       {keys: []string{"maxTasks"}},
	"hostname":          {keys: []string{"domainName"}},
	"platform":          {keys: []string{"cpuArchitecture"}},
	"spot":              {keys: []string{"onDemandBaseTasks", "spotFallback"}, why: "the tasks above onDemandBaseTasks run on Fargate Spot already"},
	"fargatespot":       {keys: []string{"onDemandBaseTasks", "spotFallback"}, why: "the tasks above onDemandBaseTasks run on Fargate Spot already"},
	"usespot":           {keys: []string{"onDemandBaseTasks", "spotFallback"}, why: "the tasks above onDemandBaseTasks run on Fargate Spot already"},
	"name":              {keys: []string{"appName"}},
	"servicename":       {keys: []string{"appName"}},
	"stackname":         {keys: []string{"appName"}},
	"cors":              {keys: []string{"corsAllowedOrigins"}},
	"availabilityzones": {keys: []string{"maxAzs"}},
	"cpuutilization":    {keys: []string{"cpuTargetPercent"}},
}

// unknownKeyHint is what the error about the unknown key says after
// "unknown key; ". known are the keys LoadConfig read.
func unknownKeyHint(key string, known []string) string {
	near, why := suggest(key, known)
	switch {
	case len(near) == 0:
		return "see " + configDoc + " for the keys"
	case why != "":
		why = " " + strings.ToUpper(why[:1]) + why[1:] + "."
	}
	return "did you mean " + orList(near) + "?" + why + " (see " + configDoc + ")"
}

// suggest returns the known keys that key most likely meant, best first:
// the same key in another case or with underscores, an alias, a typo (at
// most two edits away), or the known keys that contain key or that key
// contains (at least three letters, at most three keys).
func suggest(key string, known []string) (keys []string, why string) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	k := norm(key)
	known = slices.Sorted(slices.Values(known))
	for _, c := range known {
		if norm(c) == k {
			return []string{c}, ""
		}
	}
	if a, ok := keyAliases[k]; ok {
		return a.keys, a.why
	}
	if near := nearest(k, known); near != "" {
		return []string{near}, ""
	}
	if len(k) < 3 {
		return nil, ""
	}
	var contain []string
	for _, c := range known {
		if n := norm(c); strings.Contains(n, k) || (len(n) >= 3 && strings.Contains(k, n)) {
			contain = append(contain, c)
		}
	}
	if len(contain) > 3 {
		return nil, ""
	}
	return contain, ""
}

// nearest returns the known key closest to key, if it is close enough to
// be a typo: the same letters in another case, or at most two edits away
// (one for a key of four letters or fewer: vpc is not a typo of cpu).
func nearest(key string, known []string) string {
	best, bestDist := "", 3
	if len(key) <= 4 {
		bestDist = 2
	}
	for _, k := range slices.Sorted(slices.Values(known)) {
		if strings.EqualFold(k, key) {
			return k
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// orList joins keys as "a", "a or b", "a, b or c".
func orList(keys []string) string {
	if len(keys) <= 1 {
		return strings.Join(keys, "")
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " or " + keys[len(keys)-1]
}
