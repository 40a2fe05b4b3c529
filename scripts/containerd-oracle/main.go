// Command containerd-oracle answers, for an image index and target
// platforms, which entry containerd 1.6 would pull: the differential
// oracle of crates/ocipick/tests/differential.rs and the speed baseline of
// scripts/bench-vs-containerd.sh.
//
// It applies the rule of containerd's images.Manifest to the index's
// entries: an entry is a candidate when it has no platform or when
// platforms.Only(target) matches its platform; candidates are ordered
// stably by the matcher's Less, entries without platform after all others;
// the first candidate wins.
//
// Usage:
//
//	containerd-oracle [-iters N] INDEX.json TARGET...
//
// For each TARGET (a containerd platform specifier such as linux/arm64/v8)
// it prints one JSON object on a line of its own:
//
//	{"target":"linux/arm64/v8","digest":"sha256:…","has_platform":true}
//	{"target":"linux/s390x","digest":null,"has_platform":false}
//
// With -iters N above 1 it then times N rounds of decoding the index and
// selecting for that target, and prints their mean durations in
// nanoseconds:
//
//	{"target":"linux/amd64","bytes":3062753,"iters":200,"parse_ns":…,"select_ns":…,"total_ns":…}
//
// It builds offline in GOPATH mode against Debian's
// golang-github-containerd-containerd-dev (scripts/build-oracle.sh).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/containerd/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pick returns the entry containerd would pull for matcher m, if any.
func pick(entries []ocispec.Descriptor, m platforms.MatchComparer) *ocispec.Descriptor {
	candidates := make([]ocispec.Descriptor, 0, len(entries))
	for _, e := range entries {
		if e.Platform == nil || m.Match(*e.Platform) {
			candidates = append(candidates, e)
		}
	}
	sort.SliceStable(candidates, func(a, b int) bool {
		pa, pb := candidates[a].Platform, candidates[b].Platform
		switch {
		case pa == nil:
			return false
		case pb == nil:
			return true
		default:
			return m.Less(*pa, *pb)
		}
	})
	if len(candidates) == 0 {
		return nil
	}
	return &candidates[0]
}

type answer struct {
	Target      string  `json:"target"`
	Digest      *string `json:"digest"`
	HasPlatform bool    `json:"has_platform"`
}

type timing struct {
	Target   string `json:"target"`
	Bytes    int    `json:"bytes"`
	Iters    int    `json:"iters"`
	ParseNs  int64  `json:"parse_ns"`
	SelectNs int64  `json:"select_ns"`
	TotalNs  int64  `json:"total_ns"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "containerd-oracle: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	iters := flag.Int("iters", 1, "rounds of decode+select to time per target (timing only above 1)")
	flag.Parse()
	if flag.NArg() < 2 {
		fail("usage: containerd-oracle [-iters N] INDEX.json TARGET...")
	}
	raw, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail("%v", err)
	}
	out := json.NewEncoder(os.Stdout)
	for _, spec := range flag.Args()[1:] {
		target, err := platforms.Parse(spec)
		if err != nil {
			fail("target %q: %v", spec, err)
		}
		m := platforms.Only(target)
		var index ocispec.Index
		if err := json.Unmarshal(raw, &index); err != nil {
			fail("%s: %v", flag.Arg(0), err)
		}
		a := answer{Target: spec}
		if e := pick(index.Manifests, m); e != nil {
			d := e.Digest.String()
			a.Digest = &d
			a.HasPlatform = e.Platform != nil
		}
		if err := out.Encode(a); err != nil {
			fail("%v", err)
		}
		if *iters <= 1 {
			continue
		}
		var parse, sel time.Duration
		for i := 0; i < *iters; i++ {
			start := time.Now()
			var again ocispec.Index
			_ = json.Unmarshal(raw, &again)
			decoded := time.Now()
			_ = pick(again.Manifests, m)
			parse += decoded.Sub(start)
			sel += time.Since(decoded)
		}
		n := int64(*iters)
		t := timing{Target: spec, Bytes: len(raw), Iters: *iters,
			ParseNs: int64(parse) / n, SelectNs: int64(sel) / n, TotalNs: int64(parse+sel) / n}
		if err := out.Encode(t); err != nil {
			fail("%v", err)
		}
	}
}
