#include "apps/app.h"

int main(int argc, char** argv) { return glia::app::main_cli(argc, argv); }
