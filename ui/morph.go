package ui

import (
	"fmt"
	"math"

	"atelier/engine/job"
)

// Style groups: every style in the list belongs to group A (the job's
// Styles) or group B (its MorphTo); the morph slider moves the style
// target from A's mix (0) to B's (1).
const (
	groupA = 0
	groupB = 1
)

// groupNames label the group buttons of the style rows.
var groupNames = [...]string{groupA: "A", groupB: "B"}

// toggleGroup moves it to the other group (not while a job runs: the
// job's two sets are fixed when it starts).
func (s *studio) toggleGroup(it *styleItem) {
	if s.sc.running != nil {
		return
	}
	it.group = 1 - it.group
	it.groupBtn.SetText(groupNames[it.group])
	s.showMorph()
}

// groups splits the style list into the job's two sets, in list order.
// With no style in A, B's serve as the only set (there is nothing to
// morph from).
func (s *studio) groups() (a, b []*styleItem) {
	for _, it := range s.sc.styles {
		if it.group == groupB {
			b = append(b, it)
		} else {
			a = append(a, it)
		}
	}
	if len(a) == 0 {
		return b, nil
	}
	return a, b
}

// morphValue is the morph slider's position, rounded to hundredths.
func (s *studio) morphValue() float64 { return math.Round(s.sc.morph.Value*100) / 100 }

// showMorph labels the morph slider with its position, or says that it
// needs styles in both groups.
func (s *studio) showMorph() {
	c := &s.sc
	if _, b := s.groups(); len(b) == 0 {
		c.morphLabel.SetText("A only")
		return
	}
	c.morphLabel.SetText(fmt.Sprintf("%.2f", s.morphValue()))
}

// steerMorph sends the morph position to the running job, when it has
// styles in both groups.
func (s *studio) steerMorph() {
	c := &s.sc
	if c.running == nil || len(c.runB) == 0 {
		return
	}
	c.running.Steer(job.Params{Morph: job.Float(s.morphValue())})
}

// steerMix sends the weights of the running job's two style sets. A set
// whose weights are all zero is sent only where the morph position does
// not use it (the engine would refuse it).
func (s *studio) steerMix() {
	c := &s.sc
	if c.running == nil {
		return
	}
	t := 0.0
	if len(c.runB) > 0 {
		t = s.morphValue()
	}
	var p job.Params
	if mix, ok := mixOf(c.runA); ok || t >= 1 {
		p.StyleMix = mix
	}
	if len(c.runB) > 0 {
		if mix, ok := mixOf(c.runB); ok || t <= 0 {
			p.MorphMix = mix
		}
	}
	if !p.IsZero() {
		c.running.Steer(p)
	}
}

// mixOf returns the weights of items and whether one is positive.
func mixOf(items []*styleItem) ([]float64, bool) {
	mix := make([]float64, len(items))
	positive := false
	for i, it := range items {
		mix[i] = weightOf(it)
		positive = positive || mix[i] > 0
	}
	return mix, positive
}
