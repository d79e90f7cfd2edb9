COMMENT
NEURON's IntFire1 (a leaky integrator of input weights: m decays with tau, a spike when m exceeds 1, then refrac
ms in which inputs are ignored) for runs that CoreNEURON integrates.

CoreNEURON has no IntFire1, and NEURON (9.0) crashes returning from CoreNEURON a self-event with a weight that
is pending on an ARTIFICIAL_CELL (core2nrn_SelfEvent_event), which is how IntFire1 ends its refractory period.
So this cell sends itself nothing: the end of the refractory period (refrac ms after the spike) is applied
when the next input arrives, with the values IntFire1 gives it then (m = 0 from t0 = the spike time + refrac),
and the spikes are IntFire1's.  M() is IntFire1's M() at any time.
ENDCOMMENT

NEURON {
    ARTIFICIAL_CELL mkIntFire1
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
    if (refractory == 1 && t - t0 >= refrac) {
        M = 0
    } else if (refractory == 0) {
        M = m * exp(-(t - t0) / tau)
    } else if (t - t0 < 0.5) {
        M = 2
    } else {
        M = -1
    }
}

NET_RECEIVE (w) {
    if (refractory == 1 && t - t0 >= refrac) {
        : the refractory period ended at t0 + refrac
        t0 = t0 + refrac
        refractory = 0
        m = 0
    }
    if (refractory == 0) {
        m = m * exp(-(t - t0) / tau)
        t0 = t
        m = m + w
        if (m > 1) {
            refractory = 1
            m = 2
            net_event(t)
        }
    }
}
