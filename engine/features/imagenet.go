package features

import "fmt"

// imageNetNames names the few ImageNet classes the studio and its tests
// refer to (the standard 1000-class ILSVRC-2012 indices), not all of them.
var imageNetNames = map[int]string{
	403: "aircraft carrier",
	449: "boathouse",
	460: "breakwater",
	484: "catamaran",
	510: "container ship",
	525: "dam",
	536: "dock",
	554: "fireboat",
	576: "gondola",
	628: "liner",
	718: "pier",
	780: "schooner",
	821: "steel arch bridge",
	833: "submarine",
	839: "suspension bridge",
	888: "viaduct",
	900: "water tower",
	913: "wreck",
	970: "alp",
	975: "lakeside",
	978: "seashore",
}

// ImageNetBridges are the ImageNet classes of bridges: steel arch bridge,
// suspension bridge and viaduct.
var ImageNetBridges = []int{821, 839, 888}

// ImageNetClassName returns the name of an ImageNet class when this package
// knows it, "class N" otherwise.
func ImageNetClassName(i int) string {
	if n, ok := imageNetNames[i]; ok {
		return n
	}
	return fmt.Sprintf("class %d", i)
}
