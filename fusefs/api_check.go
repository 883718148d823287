package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// The go-fuse interfaces each node type implements, checked at compile
// time in one place.
var (
	_ = (fs.NodeSetattrer)((*readOnly)(nil))
	_ = (fs.NodeMkdirer)((*readOnly)(nil))
	_ = (fs.NodeMknoder)((*readOnly)(nil))
	_ = (fs.NodeCreater)((*readOnly)(nil))
	_ = (fs.NodeSymlinker)((*readOnly)(nil))
	_ = (fs.NodeLinker)((*readOnly)(nil))
	_ = (fs.NodeUnlinker)((*readOnly)(nil))
	_ = (fs.NodeRmdirer)((*readOnly)(nil))
	_ = (fs.NodeRenamer)((*readOnly)(nil))
	_ = (fs.NodeSetxattrer)((*readOnly)(nil))
	_ = (fs.NodeRemovexattrer)((*readOnly)(nil))
	_ = (fs.NodeAllocater)((*readOnly)(nil))

	_ = (fs.NodeGetattrer)((*dir)(nil))
	_ = (fs.NodeLookuper)((*dir)(nil))
	_ = (fs.NodeReaddirer)((*dir)(nil))
	_ = (fs.NodeStatfser)((*dir)(nil))

	_ = (fs.NodeGetattrer)((*textFile)(nil))
	_ = (fs.NodeOpener)((*textFile)(nil))
	_ = (fs.NodeReader)((*textFile)(nil))

	_ = (fs.NodeGetattrer)((*symlink)(nil))
	_ = (fs.NodeReadlinker)((*symlink)(nil))

	_ = (fs.NodeGetattrer)((*controlFile)(nil))
	_ = (fs.NodeSetattrer)((*controlFile)(nil))
	_ = (fs.NodeOpener)((*controlFile)(nil))
	_ = (fs.NodeReader)((*controlFile)(nil))
	_ = (fs.NodeWriter)((*controlFile)(nil))
	_ = (fs.NodeFlusher)((*controlFile)(nil))

	_ = (fs.NodeLookuper)((*setsDir)(nil))

	_ = (fs.NodeGetattrer)((*snapNode)(nil))
	_ = (fs.NodeLookuper)((*snapNode)(nil))
	_ = (fs.NodeReaddirer)((*snapNode)(nil))
	_ = (fs.NodeReadlinker)((*snapNode)(nil))
	_ = (fs.NodeOpener)((*snapNode)(nil))
	_ = (fs.NodeReader)((*snapNode)(nil))
	_ = (fs.NodeReleaser)((*snapNode)(nil))
	_ = (fs.NodeGetxattrer)((*snapNode)(nil))
	_ = (fs.NodeListxattrer)((*snapNode)(nil))
	_ = (fs.NodeStatfser)((*snapNode)(nil))
	_ = (fs.NodeSetattrer)((*snapNode)(nil))
	_ = (fs.NodeSetxattrer)((*snapNode)(nil))

	_ = (fs.NodeGetattrer)((*inNode)(nil))
	_ = (fs.NodeSetattrer)((*inNode)(nil))
	_ = (fs.NodeLookuper)((*inNode)(nil))
	_ = (fs.NodeReaddirer)((*inNode)(nil))
	_ = (fs.NodeMkdirer)((*inNode)(nil))
	_ = (fs.NodeMknoder)((*inNode)(nil))
	_ = (fs.NodeSymlinker)((*inNode)(nil))
	_ = (fs.NodeCreater)((*inNode)(nil))
	_ = (fs.NodeLinker)((*inNode)(nil))
	_ = (fs.NodeUnlinker)((*inNode)(nil))
	_ = (fs.NodeRmdirer)((*inNode)(nil))
	_ = (fs.NodeRenamer)((*inNode)(nil))
	_ = (fs.NodeReadlinker)((*inNode)(nil))
	_ = (fs.NodeOpener)((*inNode)(nil))
	_ = (fs.NodeGetxattrer)((*inNode)(nil))
	_ = (fs.NodeListxattrer)((*inNode)(nil))
	_ = (fs.NodeSetxattrer)((*inNode)(nil))
	_ = (fs.NodeRemovexattrer)((*inNode)(nil))
	_ = (fs.NodeStatfser)((*inNode)(nil))

	_ = (fs.FileReader)((*inHandle)(nil))
	_ = (fs.FileWriter)((*inHandle)(nil))
	_ = (fs.FileFlusher)((*inHandle)(nil))
	_ = (fs.FileFsyncer)((*inHandle)(nil))
	_ = (fs.FileReleaser)((*inHandle)(nil))
	_ = (fs.FileGetattrer)((*inHandle)(nil))
	_ = (fs.FileAllocater)((*inHandle)(nil))

	_ = (fs.InodeEmbedder)((*Root)(nil))
)
