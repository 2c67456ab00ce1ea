// Placeholder until the SIMT emulator lands.
#pragma once
