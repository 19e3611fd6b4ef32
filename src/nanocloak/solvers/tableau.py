"""The Rodas4 tableau (Hairer & Wanner 1996, Solving ODEs II, 2nd ed., sect. VI.4, their RODAS code),
the one copy that the numpy reference (rodas4.py) and the compiled steppers (rodas4_template.py) read.

Rosenbrock form used by both: for stage s = 1..6,

    u_s = x + sum_{j<s} a_sj k_j
    (I - gamma h J) k_s = gamma h [ f(tau + c_s h, u_s) + h d_s f_tau + (1/h) sum_{j<s} c_sj k_j ]
    x_new = u_6 + k_6         (stiffly accurate; k_6 is the embedded order-3 error estimate)

u_6 = u_5 + k_5, so a_6j = (a_5j, 1); stages 5 and 6 sit at the step's end (c = 1, d = 0).
"""

from __future__ import annotations

import numpy as np

GAMMA = 0.25
C2, C3, C4 = 0.386, 0.21, 0.63
D1, D2, D3, D4 = 0.25, -0.1043, 0.1035, -0.0362
A21 = 1.544
A31, A32 = 0.9466785280815826, 0.2557011698983284
A41, A42, A43 = 3.314825187068521, 2.896124015972201, 0.9986419139977817
A51, A52, A53, A54 = 1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950
C21 = -5.6688
C31, C32 = -2.430093356833875, -0.2063599157091915
C41, C42, C43 = -0.1073529058151375, -9.594562251023355, -20.47028614809616
C51, C52, C53, C54 = 7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160
C61, C62, C63, C64, C65 = 8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054

# dense output (Hairer & Wanner 1996, sect. IV.7; their RODAS code):
# y(tau + s h) = (1 - s) y0 + s (y1 + (1 - s) (q2 + s q3)), q2 = DENSE2 . k1..k5, q3 = DENSE3 . k1..k5
DENSE2 = (10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662)
DENSE3 = (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872)

# step-size controller (Hairer & Wanner's standard one, exponent 1/4 for order 4)
SAFETY, FAC_MIN, FAC_MAX = 0.9, 0.2, 6.0

# the same tableau as arrays over the stages, for the compiled stage loop
STAGES = 6
STAGE_A = np.array([[0.0, 0.0, 0.0, 0.0, 0.0],
                    [A21, 0.0, 0.0, 0.0, 0.0],
                    [A31, A32, 0.0, 0.0, 0.0],
                    [A41, A42, A43, 0.0, 0.0],
                    [A51, A52, A53, A54, 0.0],
                    [A51, A52, A53, A54, 1.0]])
STAGE_C = np.array([[0.0, 0.0, 0.0, 0.0, 0.0],
                    [C21, 0.0, 0.0, 0.0, 0.0],
                    [C31, C32, 0.0, 0.0, 0.0],
                    [C41, C42, C43, 0.0, 0.0],
                    [C51, C52, C53, C54, 0.0],
                    [C61, C62, C63, C64, C65]])
STAGE_TIME = np.array([0.0, C2, C3, C4, 1.0, 1.0])
STAGE_D = np.array([D1, D2, D3, D4, 0.0, 0.0])
DENSE = np.array([DENSE2, DENSE3])
for _table in (STAGE_A, STAGE_C, STAGE_TIME, STAGE_D, DENSE):
    _table.flags.writeable = False
