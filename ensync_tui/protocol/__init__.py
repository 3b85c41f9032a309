"""What the EnSync client and engine share, without I/O: the frames (:mod:`.frames`
for requests, :mod:`.replies` for what the engine sends), payload crypto
(:mod:`.crypto`) and the protocol's limits (:mod:`.limits`)."""
