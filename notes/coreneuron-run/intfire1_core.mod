: CoreNEURON's copy of NEURON's built-in IntFire1 (leaky integrator of input weights, threshold 1, refractory
: period): CoreNEURON's library has no IntFire1, and a model whose cells NEURON built as IntFire1 needs one of the
: same name and data layout (tau, refrac, m, t0, refractory) there.
NEURON {
    ARTIFICIAL_CELL IntFire1
    RANGE tau, refrac, m
}
PARAMETER {
    tau = 10 (ms)
    refrac = 5 (ms)
}
ASSIGNED {
    m
    t0 (ms)
    refractory
}
INITIAL {
    m = 0
    t0 = t
    refractory = 0
}
FUNCTION M() {
    if (refractory == 0) {
        M = m * exp(-(t - t0) / tau)
    } else if (refractory == 1) {
        if (t - t0 < 0.5) {
            M = 2
        } else {
            M = -1
        }
    }
}
NET_RECEIVE (w) {
    if (refractory == 0) {
        m = m * exp(-(t - t0) / tau)
        t0 = t
        m = m + w
        if (m > 1) {
            refractory = 1
            m = 2
            net_send(refrac, refractory)
            net_event(t)
        }
    } else if (flag == 1) {
        t0 = t
        refractory = 0
        m = 0
    }
}
